"""``gc-tui caprover-update``: CapRover itself, where it is behind (cli/runs.py)."""

from __future__ import annotations

from gc_tui.cli.context import Context
from gc_tui.cli.runs import confirm_and_run
from gc_tui.core.eventloop import run


def cmd_caprover_update(ctx: Context) -> int:
    from gc_tui.core.audit import audit_fleet
    from gc_tui.core.update import UpdateEngine, build_update_plan

    settings = ctx.settings
    instances = ctx.instances()

    async def main() -> int:
        async with ctx.session(instances) as session:
            audits = await audit_fleet(session, concurrency=settings.audit_concurrency)
            plan = build_update_plan(
                audits, settings.instance_names or None, read_only=settings.read_only
            )
            return await confirm_and_run(
                ctx,
                plan,
                lambda journal, on_event: UpdateEngine(
                    session,
                    plan,
                    concurrency=settings.update_concurrency,
                    timing=settings.update_timing,
                    journal=journal,
                    on_event=on_event,
                ),
            )

    return run(main())
