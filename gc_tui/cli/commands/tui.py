"""``gc-tui`` / ``gc-tui tui``: the interactive table."""

from __future__ import annotations

from gc_tui.cli.context import Context


def cmd_tui(ctx: Context) -> int:
    from gc_tui.tui.app import make_app

    if ctx.settings.vault is not None:
        ctx.check_vault_file()  # a missing vault is said before the password is asked
    app = make_app(ctx.settings)
    app.run()
    for line in app.exit_report:
        ctx.err(line)
    return app.return_code or 0
