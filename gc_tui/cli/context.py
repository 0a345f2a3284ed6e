"""What every command needs: its settings, the vault's instances, a place to print.

``resolve_settings`` is the one place where flags meet the config file: a flag wins, then
the config, then the defaults of ``Settings`` (or of the base the demo and tests pass).
"""

from __future__ import annotations

import argparse
import getpass
import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from gc_tui.cli.parser import PASSWORD_ENV

if TYPE_CHECKING:
    from gc_tui.config import Config
    from gc_tui.core.journal import Journal
    from gc_tui.core.model import Instance
    from gc_tui.core.registry_config import RegistryCredentials
    from gc_tui.core.secret import Secret
    from gc_tui.core.session import FleetSession
    from gc_tui.core.targets import Targets
    from gc_tui.core.vault import VaultEntry
    from gc_tui.settings import Settings

EXIT_OK, EXIT_INCOMPLETE, EXIT_USAGE = 0, 1, 2
EXIT_TERMINAL_GONE, EXIT_INTERRUPTED, EXIT_CRASH = 129, 130, 70


class UsageError(Exception):
    """Reported as one line on stderr with exit code 2."""


def load_config_for(args: argparse.Namespace) -> Config:
    from gc_tui.config import ConfigError, load_config

    try:
        return load_config(getattr(args, "config", None))
    except ConfigError as err:
        raise UsageError(str(err)) from None


def resolve_settings(args: argparse.Namespace, config: Config, base: Settings) -> Settings:
    """Flags over the config file over ``base``: the only place they are weighed."""

    def flag(name: str) -> Any:  # argparse values; each command has its own flags
        return getattr(args, name, None)

    vault = flag("vault") or config.vault or base.vault
    concurrency = flag("concurrency")
    return replace(
        base,
        config=config,
        vault=Path(str(vault)) if vault else None,
        keyfile=flag("keyfile") or config.keyfile or base.keyfile,
        group=flag("group") or config.group or base.group,
        tag=flag("tag") or config.tag or base.tag,
        instance_names=tuple(flag("instance") or ()) or base.instance_names,
        targets_path=flag("targets") or config.targets or base.targets_path,
        read_only=bool(flag("read_only")) or config.read_only or base.read_only,
        allow_slow_vault=bool(flag("allow_slow_vault")) or base.allow_slow_vault,
        audit_concurrency=config.concurrency,
        deploy_concurrency=concurrency or config.deploy_concurrency,
        update_concurrency=concurrency or config.update_concurrency,
        lock_after_minutes=config.lock_after_minutes,
    )


class Context:
    def __init__(
        self,
        args: argparse.Namespace,
        settings: Settings,
        *,
        stdin: TextIO,
        stdout: TextIO,
        stderr: TextIO,
    ) -> None:
        self.args = args
        self.settings = settings
        self.stdin, self.stdout, self.stderr = stdin, stdout, stderr
        self._entries: list[VaultEntry] = []  # every entry of the vault once it is read

    # -- the vault ----------------------------------------------------------------------------

    def vault_path(self) -> Path:
        if self.settings.vault is None:
            raise UsageError("no vault: pass --vault FILE or set vault in the config file")
        return self.settings.vault

    def check_vault_file(self) -> Path:
        """The vault path, refused before any question if it is not a readable file."""
        path = self.vault_path()
        if not path.is_file():
            what = "does not exist" if not path.exists() else "is not a file"
            from gc_tui.core.text import printable

            raise UsageError(f"{printable(str(path), 200)}: the vault file {what}")
        return path

    def read_password(self) -> Secret | None:
        from gc_tui.core.secret import Secret

        if self.settings.password is not None:
            return self.settings.password
        keyfile = self.settings.keyfile
        if getattr(self.args, "password_stdin", False):
            raw = self.stdin.readline()
            if not raw and keyfile is None:
                # Nothing at all (</dev/null, a closed pipe): not a wrong password.
                raise UsageError("--password-stdin: no password on stdin")
            line = raw.rstrip("\r\n")
            return Secret(line) if line or keyfile is None else None
        from_env = os.environ.get(PASSWORD_ENV)
        if from_env is not None:
            return Secret(from_env) if from_env or keyfile is None else None
        if self.stdin.isatty():
            typed = getpass.getpass(f"Password for {self.vault_path().name}: ")
            return Secret(typed) if typed or keyfile is None else None
        if keyfile is not None:
            return None
        raise UsageError(
            f"no vault password: use a terminal, ${PASSWORD_ENV} or --password-stdin"
        )

    def instances(self) -> list[Instance]:
        from gc_tui.core.vault import VaultError, read_vault, select_instances
        from gc_tui.settings import UnknownInstances

        path = self.check_vault_file()
        password = self.read_password()
        settings = self.settings
        try:
            self._entries = read_vault(
                path, password, settings.keyfile, allow_slow=settings.allow_slow_vault
            )
            found = select_instances(self._entries, group=settings.group, tag=settings.tag)
            selected = settings.select(found)
        except (VaultError, UnknownInstances) as err:
            raise UsageError(str(err)) from None
        for warning in settings.config.unmatched_sections(found):
            self.err(f"warning: {warning}")
        for instance in selected:
            if instance.insecure:
                self.err(f"warning: {instance.name}: TLS verification is off (config)")
        return selected

    def registry_credentials(self) -> dict[str, RegistryCredentials]:
        """Credentials of the registries whose config table names a vault entry (read after
        ``instances()``, from the same unlocked vault)."""
        from gc_tui.core.registry_config import RegistryConfigError, registry_credentials

        config = self.settings.config
        try:
            return registry_credentials(
                config.registries, self._entries, config.path or Path("config.toml")
            )
        except RegistryConfigError as err:
            raise UsageError(str(err)) from None

    def session(self, instances: Sequence[Instance]) -> FleetSession:
        from gc_tui.core.session import FleetSession

        return FleetSession(
            instances, self.settings.client, ca_files=self.settings.config.ca_files()
        )

    def targets(self, required: bool = False) -> Targets | None:
        from gc_tui.core.targets import TargetsError, load_targets

        path = self.settings.targets_path
        if path is None:
            if required:
                raise UsageError(
                    "no targets file: pass --targets FILE or set targets in the config"
                )
            return None
        try:
            return load_targets(Path(path))
        except TargetsError as err:
            raise UsageError(str(err)) from None

    def journal(self) -> Journal:
        from gc_tui.core.journal import Journal

        return Journal(self.settings.journal_path)

    # -- printing -------------------------------------------------------------------------------

    def out(self, text: str) -> None:
        self.stdout.write(text if text.endswith("\n") else text + "\n")
        self.stdout.flush()

    def err(self, text: str) -> None:
        from gc_tui.core.text import printable

        self.stderr.write("\n".join(printable(line) for line in text.split("\n")) + "\n")
        self.stderr.flush()

    @property
    def progress(self) -> TextIO:
        """Where progress lines go: stderr when stdout carries JSON."""
        return self.stderr if getattr(self.args, "format", "text") == "json" else self.stdout
