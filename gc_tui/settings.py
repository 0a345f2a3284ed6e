"""Settings: every choice a command or the TUI makes, resolved once from flags and config.

The CLI builds one ``Settings`` (``gc_tui.cli.context.resolve_settings``): a flag wins over
the config file, the config file over the defaults. The headless commands, the TUI, the demo
and the tests all receive that one value, so no other place reads ``args.x or config.x``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gc_tui.config import Config
from gc_tui.core.deploy import DeployTiming
from gc_tui.core.http import HttpSettings
from gc_tui.core.model import Instance
from gc_tui.core.secret import Secret
from gc_tui.core.update import UpdateTiming


class UnknownInstances(ValueError):
    """``--instance`` named an instance the vault does not have; ``str()`` lists them."""


@dataclass(frozen=True)
class Settings:
    config: Config = field(default_factory=Config)
    vault: Path | None = None
    keyfile: Path | None = None
    group: str | None = None
    tag: str | None = None
    instance_names: tuple[str, ...] = ()  # empty: every instance the vault selects
    targets_path: Path | None = None
    read_only: bool = False
    allow_slow_vault: bool = False
    audit_concurrency: int = 256
    deploy_concurrency: int = 8
    update_concurrency: int = 4
    lock_after_minutes: float = 15.0
    journal_path: Path | None = None  # None: the default state folder
    deploy_timing: DeployTiming = DeployTiming()
    update_timing: UpdateTiming = UpdateTiming()
    # The demo and tests only: the vault password, so nothing is asked; the TUI uses it for
    # the first unlock only and asks the operator after an idle lock.
    password: Secret | None = field(default=None, repr=False)
    unlock_hint: str | None = None  # shown under the password field (the demo's password)

    @property
    def client(self) -> HttpSettings:
        return self.config.client

    @property
    def hold_repositories(self) -> tuple[str, ...]:
        return self.config.hold_repositories

    def select(self, instances: Sequence[Instance]) -> list[Instance]:
        """The vault's instances with the config's per-instance settings, narrowed to
        ``instance_names`` when given; UnknownInstances names any that the vault lacks."""
        found = self.config.apply_to(instances)
        wanted = list(dict.fromkeys(self.instance_names))
        if not wanted:
            return found
        names = {instance.name for instance in found}
        unknown = [name for name in wanted if name not in names]
        if unknown:
            raise UnknownInstances(f"no such instance in the vault: {', '.join(unknown)}")
        return [instance for instance in found if instance.name in wanted]
