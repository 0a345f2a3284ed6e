"""One module per command; ``COMMANDS`` maps each command name to its function."""

from __future__ import annotations

from collections.abc import Callable

from gc_tui.cli.commands.audit import cmd_audit
from gc_tui.cli.commands.deploy import cmd_deploy, cmd_rollback
from gc_tui.cli.commands.log import cmd_log
from gc_tui.cli.commands.targets import cmd_targets
from gc_tui.cli.commands.tui import cmd_tui
from gc_tui.cli.commands.update import cmd_caprover_update
from gc_tui.cli.commands.upstream import cmd_upstream
from gc_tui.cli.context import Context

COMMANDS: dict[str, Callable[[Context], int]] = {
    "audit": cmd_audit,
    "deploy": cmd_deploy,
    "rollback": cmd_rollback,
    "caprover-update": cmd_caprover_update,
    "targets": cmd_targets,
    "log": cmd_log,
    "upstream": cmd_upstream,
    "tui": cmd_tui,
}
