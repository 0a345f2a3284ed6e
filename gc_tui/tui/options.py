"""Everything the CLI decides before the TUI starts, in one frozen value."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from gc_tui.config import Config
from gc_tui.core.deploy import Timing
from gc_tui.core.secret import Secret
from gc_tui.core.update import UpdateTiming


@dataclass(frozen=True)
class TuiOptions:
    vault: Path | None = None
    keyfile: Path | None = None
    group: str | None = None
    tag: str | None = None
    instance_names: tuple[str, ...] = ()  # empty: every instance the vault selects
    config: Config = field(default_factory=Config)
    read_only: bool = False
    targets_path: Path | None = None
    deploy_timing: Timing = Timing()
    update_timing: UpdateTiming = UpdateTiming()
    audit_concurrency: int = 32
    deploy_concurrency: int = 8
    lock_after_minutes: float = 15.0
    unlock_hint: str | None = None  # shown under the password field (the demo's password)
    # Tests and the demo only: unlocks once at start without showing anything on screen.
    # Never reused after an idle lock, which always asks the operator again.
    password: Secret | None = field(default=None, repr=False)
    log_path: Path | None = None  # deploy log; None: the default state dir
    allow_slow: bool = False  # accept a vault whose key derivation is very slow

    @property
    def effective_read_only(self) -> bool:
        return self.read_only or self.config.read_only
