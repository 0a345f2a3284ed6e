"""The ``gc-tui`` command: the TUI by default, and headless commands over the same core.

Heavy imports (pykeepass, httpx, textual) happen inside the commands, so ``--help`` and
``--version`` answer at once. Exit codes are listed in ``parser.EXIT_CODES``.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

from gc_tui.cli.context import EXIT_CRASH, EXIT_INTERRUPTED, EXIT_USAGE, Context, UsageError

if TYPE_CHECKING:
    from gc_tui.settings import Settings


def run(
    argv: Sequence[str],
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    base: Settings | None = None,
) -> int:
    """Run one command. ``base``: settings the flags and the config file then refine (the
    demo's password and timings, shorter timings in tests)."""
    from gc_tui.cli.parser import build_parser

    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    argv = list(argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version")):
        argv = ["tui", *argv]
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        from gc_tui.cli.commands.demo import cmd_demo

        return cmd_demo(args.rest, stdin=stdin, stdout=stdout, stderr=stderr)
    return run_parsed(args, stdin=stdin, stdout=stdout, stderr=stderr, base=base)


def run_parsed(
    args: object,
    *,
    stdin: TextIO,
    stdout: TextIO,
    stderr: TextIO,
    base: Settings | None = None,
) -> int:
    import argparse

    from gc_tui.cli.context import load_config_for, resolve_settings
    from gc_tui.settings import Settings

    assert isinstance(args, argparse.Namespace)
    ctx = Context(args, base or Settings(), stdin=stdin, stdout=stdout, stderr=stderr)
    try:
        ctx.settings = resolve_settings(args, load_config_for(args), base or Settings())
        from gc_tui.cli.commands import COMMANDS

        return COMMANDS[args.command](ctx)
    except UsageError as err:
        ctx.err(f"gc-tui: {err}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        ctx.err("gc-tui: stopped")
        return EXIT_INTERRUPTED
    except Exception as failure:  # noqa: BLE001 - the last line of defence for secrets
        ctx.err(crash_summary(failure))
        return EXIT_CRASH


def crash_summary(failure: BaseException) -> str:
    """Where an unexpected error happened, without its message or locals.

    A message can quote a request (which carries the admin token) or a password; the frame
    locations are enough to report the bug.
    """
    frames = traceback.extract_tb(failure.__traceback__)[-8:]
    where = "\n".join(f"  {frame.filename}:{frame.lineno} in {frame.name}" for frame in frames)
    return (
        f"gc-tui: unexpected error ({type(failure).__name__}; message hidden, it may contain "
        f"secrets). Nothing new was started by it; check the journal (gc-tui log).\n{where}"
    )


def main() -> None:
    _no_core_dumps()
    sys.exit(run(sys.argv[1:]))


def _no_core_dumps() -> None:
    # A core dump of this process would hold every unlocked password.
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ImportError, ValueError, OSError):
        pass


__all__ = ["UsageError", "crash_summary", "main", "run"]
