"""``gc-tui`` / ``gc-tui tui``: the interactive table."""

from __future__ import annotations

from gc_tui.cli.context import Context, UsageError


def cmd_tui(ctx: Context) -> int:
    from gc_tui.tui.app import make_app

    if not (ctx.stdin.isatty() and ctx.stdout.isatty()):
        # Textual would draw into a pipe and wait for keys that never come.
        raise UsageError("the TUI needs a terminal; from scripts use gc-tui audit, deploy, "
                         "upstream or log (gc-tui --help)")
    if ctx.settings.vault is not None:
        ctx.check_vault_file()  # a missing vault is said before the password is asked
    app = make_app(ctx.settings)
    app.run()
    for line in app.exit_report:
        ctx.err(line)
    return app.return_code or 0
