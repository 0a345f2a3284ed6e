"""``gc-tui deploy`` and ``gc-tui rollback``: audit, plan, confirm, run (cli/runs.py)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from gc_tui.cli.context import Context, UsageError
from gc_tui.cli.runs import confirm_and_run
from gc_tui.core.eventloop import run
from gc_tui.core.model import Instance, InstanceAudit
from gc_tui.core.plan import Plan


def cmd_deploy(ctx: Context) -> int:
    from gc_tui.core.plan import (
        DeployTarget,
        PlanError,
        build_plan,
        check_image,
        plan_options,
        to_target_selection,
        unknown_apps,
    )

    args = ctx.args
    if args.to_targets:
        if args.app or args.image:
            raise UsageError("--to-targets plans every app itself: drop --app and --image")
    else:
        if not args.app:
            raise UsageError("deploy needs --app NAME (or --to-targets)")
        if not args.image:
            raise UsageError("deploy needs --image IMAGE")
        try:
            check_image(args.image, allow_floating=args.allow_floating)  # before the vault opens
        except PlanError as err:
            raise UsageError(f"{err} (--allow-floating)") from None
    targets = ctx.targets(required=args.to_targets)
    options = plan_options(
        targets,
        ctx.settings.hold_repositories,
        use_groups=not args.no_group,
        include_manual=args.include_manual,
        include_held=args.include_held,
        read_only=ctx.settings.read_only,
        allow_floating=args.allow_floating,
    )
    instances = ctx.instances()

    def plan_for(audits: Sequence[InstanceAudit]) -> Plan:
        if args.to_targets:
            assert targets is not None
            wanted = to_target_selection(audits, targets)
            if not wanted:
                ctx.err("every reachable app is on its target (or needs a human)")
        else:
            answered = [audit for audit in audits if audit.ok]
            missing = unknown_apps(answered, args.app) if answered else []
            if missing:
                raise UsageError("; ".join(missing))
            wanted = [
                DeployTarget(audit.instance.name, app, args.image)
                for audit in audits
                for app in args.app
                if not audit.ok or args.instance or any(a.name == app for a in audit.apps)
            ]
        try:
            return build_plan(audits, wanted, options)
        except PlanError as err:
            raise UsageError(str(err)) from None

    return _audit_plan_run(ctx, instances, plan_for)


def cmd_rollback(ctx: Context) -> int:
    from gc_tui.core.plan import (
        PlanError,
        build_plan,
        plan_options,
        rollback_targets,
        unknown_apps,
        with_skipped,
    )

    args = ctx.args
    options = plan_options(
        ctx.targets(),
        ctx.settings.hold_repositories,
        use_groups=not args.no_group,
        read_only=ctx.settings.read_only,
        allow_floating=True,  # back to exactly what ran before, tag or not
    )
    instances = ctx.instances()

    def plan_for(audits: Sequence[InstanceAudit]) -> Plan:
        answered = [audit for audit in audits if audit.ok]
        missing = unknown_apps(answered, args.app) if answered else []
        if missing:
            raise UsageError("; ".join(missing))
        wanted, refused = rollback_targets(audits, args.app, args.instance or None)
        try:
            plan = build_plan(audits, wanted, options, action="rollback")
        except PlanError as err:
            raise UsageError(str(err)) from None
        return with_skipped(plan, refused)

    return _audit_plan_run(ctx, instances, plan_for)


def _audit_plan_run(
    ctx: Context, instances: Sequence[Instance], plan_for: Callable[[Sequence[InstanceAudit]], Plan]
) -> int:
    from gc_tui.core.audit import audit_fleet
    from gc_tui.core.deploy import DeployEngine

    settings = ctx.settings

    async def main() -> int:
        async with ctx.session(instances) as session:
            audits = await audit_fleet(session, concurrency=settings.audit_concurrency)
            plan = plan_for(audits)
            return await confirm_and_run(
                ctx,
                plan,
                lambda journal, on_event: DeployEngine(
                    session,
                    plan,
                    concurrency=settings.deploy_concurrency,
                    timing=settings.deploy_timing,
                    journal=journal,
                    on_event=on_event,
                ),
            )

    return run(main())
