"""One row of the fleet table as plain data, and what its state means.

No Textual here. ``status_of`` is the single source of truth for what a row's state means:
the status cell, the filter, the header counts and the exports all read it, so they cannot
disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property, lru_cache

from gc_tui.core.drift import Drift, compare_versions
from gc_tui.core.engine import RowState
from gc_tui.core.images import try_parse_image
from gc_tui.core.model import AppInfo, InstanceStatus, VersionInfo
from gc_tui.core.plan import row_key
from gc_tui.core.upstream import AppUpstream
from gc_tui.tui.filter import Field, Fields

INSTANCE_ROW = "\x00"  # an app name no server can produce: the key of an instance's own row


def instance_row_key(instance: str) -> str:
    return row_key(instance, INSTANCE_ROW)


class RowKind(StrEnum):
    APP = "app"
    INSTANCE = "instance"  # an instance that failed the audit, or has no apps
    MISSING = "missing"  # an app the targets name that this instance does not have


class Tone(StrEnum):
    """How a status looks; the word always says the same thing without colour."""

    OK = "ok"
    MANUAL = "manual"
    ACTIVE = "active"
    DONE = "done"
    FAILED = "failed"
    MUTED = "muted"


@dataclass(frozen=True)
class DeployStatus:
    state: RowState
    started_at: float | None  # monotonic
    updated_at: float  # monotonic, when this state was reached
    to_image: str | None = None
    error: str | None = None
    log_tail: tuple[str, ...] = ()

    def elapsed(self, now: float) -> float | None:
        if self.started_at is None:
            return None
        end = self.updated_at if self.state.final else now
        return max(0.0, end - self.started_at)


@dataclass(frozen=True)
class CapRoverUpdate:
    """A CapRover update of the row's instance, as the update engine last reported it."""

    state: RowState
    from_version: str | None
    to_version: str | None
    updated_at: float  # monotonic
    error: str | None = None

    @property
    def final(self) -> bool:
        return self.state.final


@dataclass(frozen=True)
class Status:
    word: str
    tone: Tone


# Every state a run's row can reach, as a tone: the one table deploys and updates share.
RUN_TONES = {
    RowState.PLANNED: Tone.ACTIVE,
    RowState.SENDING: Tone.ACTIVE,
    RowState.SENT: Tone.ACTIVE,
    RowState.NOT_SENT: Tone.FAILED,
    RowState.BUILDING: Tone.ACTIVE,
    RowState.RESTARTING: Tone.ACTIVE,
    RowState.VERIFYING: Tone.ACTIVE,
    RowState.DONE: Tone.DONE,
    RowState.FAILED: Tone.FAILED,
    RowState.CANCELLED: Tone.FAILED,
    RowState.SKIPPED: Tone.MUTED,
}


@dataclass(frozen=True)
class FleetRow:
    key: str
    kind: RowKind
    instance: str
    instance_status: InstanceStatus
    instance_error: str | None = None
    version: VersionInfo | None = None
    app: AppInfo | None = None
    deploy: DeployStatus | None = None
    drift: Drift | None = None
    update: CapRoverUpdate | None = None  # a CapRover update of this row's instance
    missing_app: str | None = None  # RowKind.MISSING: the target app absent here
    # What the registry says of the app's repository; None until its lookup answers.
    upstream: AppUpstream | None = None
    # The vault entry's warnings (an internationalised host's punycode form, a password
    # sent over plain http, an expired entry): STATUS carries a sign, enter spells them out.
    instance_warnings: tuple[str, ...] = ()

    @property
    def app_name(self) -> str:
        if self.app is not None:
            return self.app.name
        return self.missing_app or ""

    @property
    def image(self) -> str | None:
        return self.app.image if self.app is not None else None

    @cached_property
    def manual(self) -> bool:
        """Cached: the header counts it on every keystroke in the filter (a regex per row)."""
        return self.app is not None and self.app.manual

    @cached_property
    def image_parts(self) -> tuple[str, str]:
        """(repository, tag) for display; a reference Docker would refuse is split naively."""
        image = self.image
        if image is None:
            return ("", "")
        return image_parts(image)

    @cached_property
    def repository(self) -> str | None:
        """The image's repository in full (``docker.io/library/postgres``), as lookups key it."""
        image = self.image
        parsed = try_parse_image(image) if image else None
        return parsed.repository if parsed is not None else None

    @cached_property
    def update_available(self) -> bool | None:
        """True when latest > current, compared as the update plan does.

        The versions decide, not ``canUpdate``: false there can also mean the server could
        not check, and then ``latest`` merely repeats ``current``.
        """
        if self.version is None or not self.version.latest:
            return None
        order = compare_versions(self.version.latest, self.version.current)
        if order is None:
            return self.version.can_update or None
        return order > 0

    @property
    def update_shown(self) -> bool:
        """The CapRover update wins the status column: it is running, or newer than the deploy."""
        update = self.update
        if update is None:
            return False
        if not update.final or self.deploy is None:
            return True
        return update.updated_at >= self.deploy.updated_at

    @cached_property
    def status(self) -> Status:
        return status_of(self)

    @cached_property
    def search_fields(self) -> Fields:
        repository, tag = self.image_parts
        # The instance's own status only on its own row: every app row of a healthy instance
        # would otherwise match "status:ok", manual ones included.
        statuses = [self.status.word]
        if self.kind is RowKind.INSTANCE:
            statuses.append(str(self.instance_status))
            if self.instance_status is not InstanceStatus.OK:
                statuses.append("failed")  # as the header counts them, whatever the reason
        if self.manual:
            statuses.append("manual")
        if self.deploy is not None:
            statuses.append(str(self.deploy.state))
        if self.update is not None:
            statuses.append(f"caprover: {self.update.state}")
        if self.drift is not None:
            statuses.append(str(self.drift.state))
        if self.update_available:
            statuses.append("update")
        if self.upstream is not None:
            statuses.append(str(self.upstream.state))  # status:behind, status:repushed
        if self.instance_warnings:
            statuses.append("warning")
        return {
            Field.INSTANCE: (self.instance,),
            Field.APP: (self.app_name,),
            Field.IMAGE: tuple(v for v in (self.image or "", repository, tag) if v),
            Field.STATUS: tuple(statuses),
        }

    @cached_property
    def search_values(self) -> tuple[str, ...]:
        """Every value of ``search_fields``, for terms that look at every column."""
        return tuple(value for values in self.search_fields.values() for value in values)


@lru_cache(maxsize=4096)  # a fleet runs few distinct images; FleetModel.clear() empties it
def image_parts(image: str) -> tuple[str, str]:
    parsed = try_parse_image(image)
    if parsed is not None:
        tag = parsed.tag or ""
        if parsed.digest:
            tag = f"{tag}@{parsed.digest[:19]}" if tag else parsed.digest[:19]
        return (parsed.familiar_repository, tag)
    head, colon, tail = image.rpartition(":")
    if colon and "/" not in tail:
        return (head, tail)
    return (image, "")


def status_of(row: FleetRow) -> Status:
    """What the row is doing now: a deploy or CapRover update (the newer) wins over the audit."""
    if row.update is not None and row.update_shown:
        return Status(f"caprover: {row.update.state}", RUN_TONES[row.update.state])
    if row.deploy is not None:
        return Status(str(row.deploy.state), RUN_TONES[row.deploy.state])
    if row.kind is RowKind.INSTANCE:
        if row.instance_status is InstanceStatus.OK:
            return Status("no apps", Tone.MUTED)
        return Status(str(row.instance_status).replace("_", " "), Tone.FAILED)
    if row.kind is RowKind.MISSING:
        return Status("missing", Tone.MANUAL)
    if row.app is not None and row.app.is_building:
        return Status("building", Tone.ACTIVE)
    if row.manual:
        return Status("manual", Tone.MANUAL)
    if row.image is None:
        return Status("no image", Tone.MUTED)
    return Status("ok", Tone.OK)


