"""``gc-tui upstream``: the newest tag of every repository the fleet runs."""

from __future__ import annotations

from collections.abc import Sequence

from gc_tui.cli.context import EXIT_INCOMPLETE, EXIT_OK, Context
from gc_tui.core.eventloop import run
from gc_tui.core.model import InstanceAudit
from gc_tui.core.text import printable
from gc_tui.core.upstream import RepositorySummary


def cmd_upstream(ctx: Context) -> int:
    from gc_tui.cli.upstream import look_up_upstream, tag_rules
    from gc_tui.core.audit import audit_fleet
    from gc_tui.core.upstream import repository_summary
    from gc_tui.core.upstream_plan import wanted_repositories

    targets = ctx.targets()
    instances = ctx.instances()
    credentials = ctx.registry_credentials()

    async def main() -> tuple[list[RepositorySummary], list[InstanceAudit]]:
        async with ctx.session(instances) as session:
            audits = await audit_fleet(session, concurrency=ctx.settings.audit_concurrency)
        wanted = wanted_repositories(audits)
        found = await look_up_upstream(ctx, wanted, details=False, targets=targets,
                                       credentials=credentials)
        rules = tag_rules(targets)
        summaries = [
            repository_summary(found[name], wanted[name], rules(name))
            for name in sorted(wanted) if name in found
        ]
        return summaries, [audit for audit in audits if not audit.ok]

    summaries, failed = run(main())
    for audit in failed:
        # Its repositories are missing from the list: say so, as gc-tui audit would.
        ctx.err(f"{printable(audit.instance.name)} did not answer, so what it runs is not "
                f"listed: {printable(audit.error or str(audit.status), 200)}")
    if ctx.args.format == "json":
        from gc_tui.report import render_json

        ctx.out(render_json({"repositories": [s.as_json() for s in summaries]}))
    else:
        ctx.out(upstream_table(summaries))
    return EXIT_INCOMPLETE if failed or any(s.error for s in summaries) else EXIT_OK


def upstream_table(summaries: Sequence[RepositorySummary]) -> str:
    if not summaries:
        return "(no repository: no app runs a registry image)"
    width = min(60, max(len(s.repository) for s in summaries))
    lines = [f"{'REPOSITORY':<{width}}  {'NEWEST':<22} {'TAGS':>5}  DIGEST / ERROR"]
    for summary in summaries:
        tail = (
            f"! {printable(str(summary.error), 120)}"
            if summary.error
            else printable((summary.digest or "")[:19], 19)
        )
        lines.append(
            f"{printable(summary.repository, width):<{width}}  "
            f"{printable(summary.newest or '-', 22):<22} {summary.tags:>5}  {tail}"
        )
    return "\n".join(lines)
