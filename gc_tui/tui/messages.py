"""What workers tell the App. Workers post these; only the App's handlers change state."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from gc_tui.core.deploy import DeployEngine, RowUpdate
from gc_tui.core.model import InstanceAudit
from gc_tui.core.update import UpdateEngine, UpdateRow


@dataclass
class AuditArrived(Message):
    """One instance answered (or failed to); ``epoch`` drops answers from before a lock."""

    audit: InstanceAudit
    epoch: int


@dataclass
class AuditEnded(Message):
    names: tuple[str, ...]
    epoch: int
    error: str | None = None  # the audit itself broke (not one instance): shown, not raised


@dataclass
class DeployRowChanged(Message):
    update: RowUpdate
    to_image: str | None
    epoch: int


@dataclass
class InstanceDeployed(Message):
    """Every row of a deploy on this instance has ended (done, failed or cancelled)."""

    instance: str
    epoch: int


@dataclass
class DeployEnded(Message):
    engine: DeployEngine
    epoch: int
    error: str | None = None
    # Instances with rows that never reported an end; the caller must not change it after.
    unfinished: dict[str, set[str]] | None = None


@dataclass
class UpdateRowChanged(Message):
    """A CapRover update changed state; ``at`` is monotonic, for ordering against deploys."""

    update: UpdateRow
    at: float
    epoch: int


@dataclass
class UpdateEnded(Message):
    engine: UpdateEngine
    epoch: int
    error: str | None = None
