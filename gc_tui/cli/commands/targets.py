"""``gc-tui targets show`` and ``targets pin``: the target images, and the staging sign-off."""

from __future__ import annotations

from pathlib import Path

from gc_tui.cli.context import EXIT_INCOMPLETE, EXIT_OK, EXIT_USAGE, Context, UsageError
from gc_tui.cli.runs import confirm
from gc_tui.core.eventloop import run
from gc_tui.core.model import InstanceAudit
from gc_tui.core.targets import Targets
from gc_tui.core.text import printable


def cmd_targets(ctx: Context) -> int:
    action = ctx.args.targets_command
    if action is None:
        raise UsageError("targets needs an action: show, pin or bump")
    path = ctx.settings.targets_path
    if path is None:
        raise UsageError("no targets file: pass --targets FILE or set targets in the config")
    if action == "show":
        targets = ctx.targets(required=True)
        assert targets is not None
        show_targets(ctx, targets)
        return EXIT_OK
    if action == "bump":
        return _bump(ctx, Path(path))
    return _pin(ctx, Path(path))


def _bump(ctx: Context, path: Path) -> int:
    """Every target to its repository's newest tag: the diff first, then the question."""
    from gc_tui.cli.upstream import look_up_upstream
    from gc_tui.core.targets import save_targets
    from gc_tui.core.upstream_plan import bump_targets, targets_diff, wanted_for_targets

    targets = ctx.targets(required=True)
    assert targets is not None
    credentials = None
    if any(r.vault_entry for r in ctx.settings.config.registries.values()):
        ctx.instances()  # the vault holds a registry's credentials: unlock it
        credentials = ctx.registry_credentials()
    found = run(look_up_upstream(ctx, wanted_for_targets(targets), details=False,
                                 targets=targets, credentials=credentials))
    report = bump_targets(targets, found)
    for skip in report.skipped:
        ctx.err(f"  skip {printable(skip.app)}: {printable(skip.reason)}")
    if not report.changes:
        ctx.err("nothing to bump: every target is on its repository's newest tag")
        return EXIT_OK
    ctx.out(targets_diff(report.targets, path.read_text(encoding="utf-8"), str(path)))
    if not confirm(ctx, len(report.changes), "bump"):
        return EXIT_USAGE
    save_targets(path, report.targets)
    ctx.err(f"bumped {len(report.changes)} target(s) in {path}")
    return EXIT_OK


def _pin(ctx: Context, path: Path) -> int:
    from dataclasses import replace

    from gc_tui.core.audit import audit_fleet
    from gc_tui.core.targets import TargetsError, load_or_new_targets, plan_pin, save_targets

    try:
        current = load_or_new_targets(path, ctx.settings.hold_repositories)
    except TargetsError as err:
        raise UsageError(str(err)) from None
    if not current.images and not ctx.args.include_unmanaged:
        raise UsageError(
            f"{path} names no target yet: pass --include-unmanaged to take every app of "
            f"{ctx.args.from_instance} as a target"
        )
    ctx.settings = replace(ctx.settings, instance_names=(ctx.args.from_instance,))
    instances = ctx.instances()

    async def audit() -> list[InstanceAudit]:
        async with ctx.session(instances) as session:
            return await audit_fleet(session)

    reference = run(audit())[0]
    if not reference.ok:
        ctx.err(f"{reference.instance.name}: {reference.status}: {reference.error}")
        return EXIT_INCOMPLETE
    report = plan_pin(current, reference, include_unmanaged=ctx.args.include_unmanaged)
    lines = [f"Pin from {reference.instance.name} into {path}:"]
    lines += [f"  {printable(change.describe())}" for change in report.changes]
    lines += [f"  skip {printable(skip.app)}: {printable(skip.reason)}" for skip in report.skipped]
    ctx.err("\n".join(lines))
    if not report.changes:
        ctx.err("nothing to pin: the targets already match")
        return EXIT_OK
    if not confirm(ctx, len(report.changes), "pin"):
        return EXIT_USAGE
    save_targets(path, report.targets)
    ctx.err(f"pinned {len(report.changes)} target(s) into {path}")
    show_targets(ctx, report.targets)
    return EXIT_OK


def show_targets(ctx: Context, targets: Targets) -> None:
    width = max((len(name) for name in targets.images), default=0)
    lines = [
        f"{printable(name):<{width}}  {printable(image)}"
        for name, image in sorted(targets.images.items())
    ]
    if targets.hold_repositories:
        lines.append(f"held: {', '.join(targets.hold_repositories)}")
    ctx.out("\n".join(lines) if lines else "(no targets)")
