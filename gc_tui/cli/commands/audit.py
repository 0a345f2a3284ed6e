"""``gc-tui audit``: what every instance runs, as a table, JSON, CSV or a matrix."""

from __future__ import annotations

from gc_tui.cli.context import EXIT_INCOMPLETE, EXIT_OK, Context
from gc_tui.core.eventloop import run
from gc_tui.core.model import InstanceAudit


def cmd_audit(ctx: Context) -> int:
    from gc_tui import report
    from gc_tui.core.audit import audit_fleet

    targets = ctx.targets()
    instances = ctx.instances()

    async def audit() -> list[InstanceAudit]:
        async with ctx.session(instances) as session:
            return await audit_fleet(session, concurrency=ctx.settings.audit_concurrency)

    audits = run(audit())
    if ctx.args.format == "json":
        ctx.out(report.render_json(report.audit_json(audits, targets)))
    elif ctx.args.format == "csv":
        ctx.stdout.write(report.audit_csv(audits, targets))
    elif ctx.args.format == "matrix":
        from gc_tui.core.matrix import build_matrix

        ctx.stdout.write(report.audit_matrix(build_matrix(audits, targets), _terminal_width(ctx)))
    else:
        ctx.stdout.write(report.audit_table(audits, targets))
    return EXIT_OK if all(audit.ok for audit in audits) else EXIT_INCOMPLETE


def _terminal_width(ctx: Context) -> int | None:
    """The terminal's width when stdout is one; None (full width) into a pipe or a file."""
    if not ctx.stdout.isatty():
        return None
    import shutil

    return shutil.get_terminal_size().columns
