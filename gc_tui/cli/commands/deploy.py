"""``gc-tui deploy`` and ``gc-tui rollback``: audit, plan, confirm, run (cli/runs.py)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from gc_tui.cli.context import Context, UsageError
from gc_tui.cli.runs import confirm_and_run
from gc_tui.core.eventloop import run
from gc_tui.core.model import Instance, InstanceAudit
from gc_tui.core.plan import Plan, PlanOptions, with_unaudited
from gc_tui.core.targets import Targets


def cmd_deploy(ctx: Context) -> int:
    from gc_tui.core.plan import (
        DeployTarget,
        FloatingImage,
        PlanError,
        build_plan,
        check_typed_image,
        plan_options,
        to_target_selection,
        unknown_apps,
    )

    args = ctx.args
    if args.to_targets and args.to_newest:
        raise UsageError("--to-targets or --to-newest: one of them")
    if args.include_repushed and not args.to_newest:
        raise UsageError("--include-repushed goes with --to-newest")
    if args.to_targets or args.to_newest:
        if args.app or args.image:
            flag = "--to-targets" if args.to_targets else "--to-newest"
            raise UsageError(f"{flag} plans every app itself: drop --app and --image")
    else:
        if not args.app:
            raise UsageError("deploy needs --app NAME (or --to-targets)")
        if not args.image:
            raise UsageError("deploy needs --image IMAGE")
        try:
            check_typed_image(args.image, allow_floating=args.allow_floating)  # before the vault
        except FloatingImage as err:
            raise UsageError(f"{err}: --allow-floating") from None
        except PlanError as err:
            raise UsageError(str(err)) from None
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
    if args.to_newest:
        return _to_newest(ctx, instances, targets, options)

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
            plan = build_plan(audits, wanted, options)
        except PlanError as err:
            raise UsageError(str(err)) from None
        # --app names the apps, so a failed instance has its rows already; a fleet-wide
        # selection cannot, and says so in one row per instance.
        return with_unaudited(plan, audits) if args.to_targets else plan

    return _audit_plan_run(ctx, instances, plan_for)


def _to_newest(
    ctx: Context, instances: Sequence[Instance], targets: Targets | None, options: PlanOptions
) -> int:
    """Every app behind upstream to its repository's newest tag (--include-repushed: and the
    re-pushed ones to the same image again), planned and confirmed like any deploy."""
    from dataclasses import replace

    from gc_tui.cli.upstream import look_up_upstream, tag_rules
    from gc_tui.core.audit import audit_fleet
    from gc_tui.core.deploy import DeployEngine
    from gc_tui.core.plan import PlanError, build_plan
    from gc_tui.core.upstream_plan import to_newest_selection, wanted_repositories

    args, settings = ctx.args, ctx.settings
    credentials = ctx.registry_credentials()

    async def main() -> int:
        async with ctx.session(instances) as session:
            audits = await audit_fleet(session, concurrency=settings.audit_concurrency)
            # The created times say whether a tag was re-pushed; only then are they read.
            found = await look_up_upstream(
                ctx, wanted_repositories(audits), details=args.include_repushed,
                targets=targets, credentials=credentials,
            )
            for name, lookup in sorted(found.items()):
                if lookup.error is not None:
                    ctx.err(f"warning: {name}: {lookup.error}")
            selection = to_newest_selection(
                audits, found, tag_rules(targets), include_repushed=args.include_repushed
            )
            if not selection.targets:
                ctx.err("every app is on its repository's newest tag (or cannot be looked up)")
            try:
                plan = with_unaudited(build_plan(
                    audits, selection.targets, replace(options, redeploy=selection.redeploys)
                ), audits)
            except PlanError as err:
                raise UsageError(str(err)) from None
            return await confirm_and_run(
                ctx,
                plan,
                lambda journal, on_event: DeployEngine(
                    session, plan, concurrency=settings.deploy_concurrency,
                    timing=settings.deploy_timing, journal=journal, on_event=on_event,
                ),
            )

    return run(main())


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
