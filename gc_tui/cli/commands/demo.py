"""``gc-tui demo [COMMAND ...]``: any command on the built-in demo fleet, nothing to set up.

The command line is checked before anything starts, so a typo costs nothing. The demo's
vault password, timings and journal reach the command through its Settings, like any other
setting: the demo package knows nothing of the CLI.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TextIO

# Commands that take a targets file; the others would refuse the flag.
_TAKES_TARGETS = {"tui", "audit", "deploy", "targets", "upstream"}
_PLACEHOLDER = Path("<demo>")


def demo_argv(rest: Sequence[str], vault: Path, targets: Path, config: Path) -> list[str]:
    argv = list(rest) or ["tui"]
    if argv[0].startswith("-"):
        argv = ["tui", *argv]
    command = argv[0]
    extra = ["--vault", str(vault), "--config", str(config)]
    if command in _TAKES_TARGETS and "--targets" not in argv:
        extra += ["--targets", str(targets)]
    if command == "targets":
        # `targets show|pin` take their flags after the action.
        with_vault = len(argv) > 1 and argv[1] in ("pin", "bump")
        return argv[:2] + (extra if with_vault else extra[2:]) + argv[2:]
    return [command, *extra, *argv[1:]]


def cmd_demo(rest: Sequence[str], *, stdin: TextIO, stdout: TextIO, stderr: TextIO) -> int:
    from gc_tui.cli import run_parsed
    from gc_tui.cli.parser import build_parser
    from gc_tui.core.deploy import DeployTiming
    from gc_tui.core.secret import Secret
    from gc_tui.core.update import UpdateTiming
    from gc_tui.settings import Settings

    parser = build_parser()
    if rest and rest[0] == "demo":
        parser.error("demo inside demo: drop the second 'demo'")
    # Parsed once with placeholders: a mistyped command or flag fails before the fleet starts.
    parser.parse_args(demo_argv(rest, _PLACEHOLDER, _PLACEHOLDER, _PLACEHOLDER))

    from gc_tui.demo.environment import DEMO_PASSWORD, demo_world

    with demo_world() as world:
        args: argparse.Namespace = parser.parse_args(
            demo_argv(rest, world.vault, world.targets, world.config)
        )
        base = Settings(
            password=Secret(DEMO_PASSWORD),
            unlock_hint=f"demo vault {world.vault.name}, password: {DEMO_PASSWORD}",
            journal_path=world.journal,
            deploy_timing=DeployTiming(poll_interval=1.0, settle_seconds=1.5),
            update_timing=UpdateTiming(poll_interval=1.0, deadline=120.0),
        )
        if args.command == "tui":
            # The TUI asks for the password: typing it is part of the demo.
            base = replace(base, password=None)
        return run_parsed(args, stdin=stdin, stdout=stdout, stderr=stderr, base=base)
