"""``gc-tui audit``: what every instance runs, as a table, JSON, CSV or a matrix (``--upstream``:
and what is new upstream for each app)."""

from __future__ import annotations

from gc_tui.cli.context import EXIT_INCOMPLETE, EXIT_OK, Context
from gc_tui.core.eventloop import run
from gc_tui.core.model import InstanceAudit
from gc_tui.core.upstream import RepositoryLookup


def cmd_audit(ctx: Context) -> int:
    from gc_tui import report
    from gc_tui.cli.upstream import look_up_upstream, tag_rules
    from gc_tui.core.audit import audit_fleet
    from gc_tui.core.upstream_plan import upstream_of_app, wanted_repositories

    targets = ctx.targets()
    instances = ctx.instances()
    credentials = ctx.registry_credentials() if ctx.args.upstream else None

    async def audit() -> tuple[list[InstanceAudit], dict[str, RepositoryLookup]]:
        async with ctx.session(instances) as session:
            audits = await audit_fleet(session, concurrency=ctx.settings.audit_concurrency)
        lookups: dict[str, RepositoryLookup] = {}
        if ctx.args.upstream:
            lookups = await look_up_upstream(
                ctx, wanted_repositories(audits), details=True, targets=targets,
                credentials=credentials,
            )
        return audits, lookups

    audits, lookups = run(audit())
    rules = tag_rules(targets)
    upstream = (
        (lambda app: upstream_of_app(app, lookups, rules)) if ctx.args.upstream else None
    )
    if ctx.args.format == "json":
        ctx.out(report.render_json(report.audit_json(audits, targets, upstream)))
    elif ctx.args.format == "csv":
        ctx.stdout.write(report.audit_csv(audits, targets, upstream))
    elif ctx.args.format == "matrix":
        from gc_tui.core.matrix import build_matrix

        by_instance = (
            (lambda _instance, app: upstream(app)) if upstream is not None else None
        )
        matrix = build_matrix(audits, targets, by_instance)
        ctx.stdout.write(report.audit_matrix(matrix, _terminal_width(ctx)))
    else:
        ctx.stdout.write(report.audit_table(audits, targets, upstream))
    return EXIT_OK if all(audit.ok for audit in audits) else EXIT_INCOMPLETE


def _terminal_width(ctx: Context) -> int | None:
    """The terminal's width when stdout is one; None (full width) into a pipe or a file."""
    if not ctx.stdout.isatty():
        return None
    import shutil

    return shutil.get_terminal_size().columns
