"""Deploy plans: which (instance, app) rows change, to what, and which are skipped and why.

A plan is decided entirely before any request is sent, from the audit, so the operator
confirms exactly what will happen. The executor (deploy.py) never adds a row.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from gc_tui.core.drift import drift_of
from gc_tui.core.groups import group_members
from gc_tui.core.images import (
    InvalidImage,
    is_named_floating_tag,
    is_server_build,
    parse_image,
    same_repository,
)
from gc_tui.core.model import AppInfo, InstanceAudit
from gc_tui.core.targets import DEFAULT_HOLD, Targets, is_held

# Above this many rows a confirmation means typing the count (CLI and TUI alike): a batch that
# big must not go out on a reflexive "y" or Enter.
CONFIRM_COUNT_ABOVE = 10


class PlanError(ValueError):
    """The request cannot become a plan (a malformed image, an unknown instance, ...)."""


class FloatingImage(PlanError):
    """An image that names no fixed build (no tag, or a floating one): refused unless the
    operator allows floating images (--allow-floating, the dialog's checkbox)."""


@dataclass(frozen=True)
class DeployTarget:
    """What the operator asked for: this app on this instance should run this image."""

    instance: str
    app: str
    image: str


@dataclass(frozen=True)
class PlanRow:
    instance: str
    app: str
    from_image: str | None
    to_image: str
    from_version: int = -1  # deployedVersion seen by the audit; verification needs it to grow
    group: str | None = None  # the service group this row belongs to, if any
    added_by_group: bool = False  # joined because another member of its group was asked for

    @property
    def key(self) -> str:
        return row_key(self.instance, self.app)


class SkipKind(StrEnum):
    """Why a row is skipped, in a few words: plan summaries count rows by these."""

    ON_TARGET = "already on it"
    SERVER_BUILD = "server builds"
    HELD = "held"
    READ_ONLY = "read-only"
    INSTANCE_FAILED = "on instances that failed the audit"
    NO_APP = "no such app"
    BUSY = "busy"
    NO_HISTORY = "no earlier image"
    NOT_BEHIND = "not behind"
    OTHER = "other"


@dataclass(frozen=True)
class SkippedRow:
    instance: str
    app: str
    from_image: str | None
    to_image: str | None
    reason: str
    group: str | None = None
    added_by_group: bool = False
    kind: SkipKind = SkipKind.OTHER

    @property
    def key(self) -> str:
        return row_key(self.instance, self.app)


@dataclass(frozen=True)
class Plan:
    rows: tuple[PlanRow, ...]
    skipped: tuple[SkippedRow, ...] = ()
    action: str = "deploy"

    @property
    def instances(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(row.instance for row in self.rows))

    def skip_summary(self) -> str:
        """E.g. ``7 skipped: 5 already on it, 2 server builds``; empty when nothing is."""
        return skip_summary(self.skipped)


def skip_summary(skipped: Sequence[SkippedRow]) -> str:
    if not skipped:
        return ""
    counts = Counter(row.kind for row in skipped).most_common()
    return f"{len(skipped)} skipped: " + ", ".join(f"{n} {kind}" for kind, n in counts)


@dataclass(frozen=True)
class PlanOptions:
    use_groups: bool = True
    include_manual: bool = False
    include_held: bool = False
    hold_repositories: tuple[str, ...] = DEFAULT_HOLD
    extra_groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    read_only: bool = False  # the whole run is read-only (flag or config)
    allow_floating: bool = False  # accept an image without a tag or digest
    # Row keys to deploy even though they run the target already: an image re-pushed under
    # the same tag is only picked up by deploying its name again (deploy --include-repushed).
    redeploy: frozenset[str] = frozenset()


def plan_options(
    targets: Targets | None,
    hold_repositories: tuple[str, ...],
    *,
    use_groups: bool = True,
    include_manual: bool = False,
    include_held: bool = False,
    read_only: bool = False,
    allow_floating: bool = False,
) -> PlanOptions:
    """The options of a run: a targets file's groups and holds win over the config's holds.

    One function so the CLI and the TUI plan the same rows for the same request.
    """
    return PlanOptions(
        use_groups=use_groups,
        include_manual=include_manual,
        include_held=include_held,
        hold_repositories=targets.hold_repositories if targets else hold_repositories,
        extra_groups=dict(targets.groups) if targets else {},
        read_only=read_only,
        allow_floating=allow_floating,
    )


def row_key(instance: str, app: str) -> str:
    return f"{instance}/{app}"


def check_image(image: str, *, allow_floating: bool = False) -> None:
    """Refuse a malformed reference before anything is sent (e.g. ``repo:20260219-85:q``),
    and one without a tag or digest unless asked: Docker would pull whatever ``latest`` is
    at that moment, a different image on each server."""
    try:
        parsed = parse_image(image)
    except InvalidImage as err:
        raise PlanError(str(err)) from None  # already names the image and what is wrong
    if parsed.tag is None and parsed.digest is None and not allow_floating:
        raise FloatingImage(
            f"{image!r} has no tag or digest: each server would pull whatever 'latest' is "
            "then; name a tag (or allow floating images)"
        )


def check_typed_image(image: str, *, allow_floating: bool = False) -> None:
    """check_image, and for an image the operator typed (``--image``, the deploy dialog) a
    tag named to move too: ``:latest``, ``:main`` pull whatever the registry points them to
    on each server. A bare number passes: some projects number their builds that way.
    Targets are checked when the file loads instead."""
    check_image(image, allow_floating=allow_floating)
    parsed = parse_image(image)
    if parsed.digest is None and is_named_floating_tag(parsed.tag) and not allow_floating:
        raise FloatingImage(
            f"{image!r} names the floating tag {parsed.tag!r}: each server would pull whatever "
            "it points to then; name a release tag (or allow floating images)"
        )


def unknown_apps(audits: Sequence[InstanceAudit], app_names: Iterable[str]) -> list[str]:
    """For each asked-for app that no instance has: one line, with a did-you-mean."""
    import difflib

    known = sorted({app.name for audit in audits for app in audit.apps})
    lines = []
    for name in dict.fromkeys(app_names):
        if name in known:
            continue
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        lines.append(f"no instance has an app named {name!r}{hint}")
    return lines


def build_plan(
    audits: Sequence[InstanceAudit],
    wanted: Iterable[DeployTarget],
    options: PlanOptions = PlanOptions(),
    *,
    action: str = "deploy",
) -> Plan:
    """Turn the operator's request into rows and skips, expanding service groups."""
    wanted = list(wanted)
    for image in dict.fromkeys(target.image for target in wanted):
        check_image(image, allow_floating=options.allow_floating)
    by_instance = {audit.instance.name: audit for audit in audits}
    unknown = sorted({t.instance for t in wanted} - by_instance.keys())
    if unknown:
        raise PlanError(f"unknown instance(s): {', '.join(unknown)}")

    rows: list[PlanRow] = []
    skipped: list[SkippedRow] = []
    seen: set[str] = set()
    asked_for = {row_key(target.instance, target.app) for target in wanted}
    for target in wanted:
        audit = by_instance[target.instance]
        for candidate in _expand(audit, target, options):
            if candidate.key in seen:
                continue
            seen.add(candidate.key)
            if candidate.added_by_group and candidate.key in asked_for:
                # The operator named this member too: it did not join because of the group.
                candidate = replace(candidate, added_by_group=False)
            if isinstance(candidate, SkippedRow):
                skipped.append(candidate)
            else:
                why = _skip_reason(audit, candidate, options)
                if why is None:
                    rows.append(candidate)
                else:
                    kind, reason = why
                    skipped.append(
                        SkippedRow(
                            candidate.instance,
                            candidate.app,
                            candidate.from_image,
                            candidate.to_image,
                            reason,
                            candidate.group,
                            candidate.added_by_group,
                            kind,
                        )
                    )
    return Plan(tuple(rows), tuple(skipped), action)


def _expand(
    audit: InstanceAudit, target: DeployTarget, options: PlanOptions
) -> list[PlanRow | SkippedRow]:
    """The asked-for row, then the members of its service group that should join it."""
    name = audit.instance.name
    if not audit.ok:
        return [
            SkippedRow(
                name, target.app, None, target.image, f"instance failed the audit: {audit.error}",
                kind=SkipKind.INSTANCE_FAILED,
            )
        ]
    apps = {app.name: app for app in audit.apps}
    asked = apps.get(target.app)
    if asked is None:
        return [
            SkippedRow(name, target.app, None, target.image, "no such app on this instance",
                       kind=SkipKind.NO_APP)
        ]
    membership = (
        group_members(asked.name, audit.apps, extra_groups=options.extra_groups)
        if options.use_groups
        else None
    )
    group = membership[0] if membership else None
    result: list[PlanRow | SkippedRow] = [_row(name, asked, target.image, group, False)]
    for member_name in membership[1] if membership else ():
        member = apps.get(member_name)
        if member is None or member.name == asked.name:
            continue
        if member.image is None or asked.image is None:
            continue
        if is_server_build(member.image) or same_repository(member.image, asked.image):
            # A server-built member is shown (and skipped as manual) rather than silently
            # left behind: the operator must know the group will be split.
            result.append(_row(name, member, target.image, group, True))
    return result


def _row(instance: str, app: AppInfo, image: str, group: str | None, added: bool) -> PlanRow:
    return PlanRow(instance, app.name, app.image, image, app.deployed_version, group, added)


def _skip_reason(
    audit: InstanceAudit, row: PlanRow, options: PlanOptions
) -> tuple[SkipKind, str] | None:
    if options.read_only:
        return SkipKind.READ_ONLY, "read-only mode: deploying is off"
    if audit.instance.read_only:
        return SkipKind.READ_ONLY, "read-only instance (config)"
    manual = row.from_image is not None and is_server_build(row.from_image)
    if manual and not options.include_manual:
        return (
            SkipKind.SERVER_BUILD,
            "server build (img-captain-...): needs a human; --include-manual to deploy anyway",
        )
    if (
        row.from_image is not None
        and is_held(row.from_image, options.hold_repositories)
        and not options.include_held
    ):
        return (
            SkipKind.HELD,
            "held image (never batch-upgraded); --include-held to deploy anyway",
        )
    if row.from_image == row.to_image and row.key not in options.redeploy:
        return SkipKind.ON_TARGET, "already on the target image"
    return None


def rollback_targets(
    audits: Sequence[InstanceAudit], app_names: Iterable[str], instances: Iterable[str] | None
) -> tuple[list[DeployTarget], list[SkippedRow]]:
    """Each app back to the image it ran before its current one, by image name."""
    wanted_instances = set(instances) if instances is not None else None
    targets: list[DeployTarget] = []
    refused: list[SkippedRow] = []
    names = list(app_names)
    for audit in audits:
        name = audit.instance.name
        if wanted_instances is not None and name not in wanted_instances:
            continue
        if not audit.ok:
            for app_name in names:
                refused.append(
                    SkippedRow(name, app_name, None, None,
                               f"instance failed the audit: {audit.error}",
                               kind=SkipKind.INSTANCE_FAILED)
                )
            continue
        apps = {app.name: app for app in audit.apps}
        for app_name in names:
            app = apps.get(app_name)
            if app is None:
                continue
            previous = app.previous_image()
            if previous is None or previous.image is None:
                refused.append(
                    SkippedRow(name, app_name, app.image, None, "no earlier image in the history",
                               kind=SkipKind.NO_HISTORY)
                )
            elif is_server_build(previous.image):
                refused.append(
                    SkippedRow(
                        name,
                        app_name,
                        app.image,
                        previous.image,
                        "the previous image is a server build (img-captain-...), which cannot "
                        "be redeployed by name; roll back in the dashboard",
                        kind=SkipKind.SERVER_BUILD,
                    )
                )
            else:
                targets.append(DeployTarget(name, app_name, previous.image))
    return targets, refused


def to_target_selection(audits: Sequence[InstanceAudit], targets: Targets) -> list[DeployTarget]:
    """Every app whose drift state is deployable (stale, other-repo, floating), to its target."""
    wanted = []
    for audit in audits:
        if not audit.ok:
            continue
        for app in audit.apps:
            drift = drift_of(app.name, app.image, targets)
            if drift.deployable and drift.target is not None:
                wanted.append(DeployTarget(audit.instance.name, app.name, drift.target))
    return wanted


# The app of a skipped row that stands for a whole instance: one that failed the audit, in a
# fleet-wide selection (--to-targets, --to-newest) that cannot know which of its apps it meant.
EVERY_APP = "*"


def with_unaudited(plan: Plan, audits: Sequence[InstanceAudit]) -> Plan:
    """``plan`` plus one skipped row for each instance that failed the audit and has none yet:
    a fleet-wide deploy must not leave an unreachable community out without a word."""
    named = {row.instance for row in plan.skipped}
    extra = [
        SkippedRow(audit.instance.name, EVERY_APP, None, None,
                   f"instance failed the audit: {audit.error}", kind=SkipKind.INSTANCE_FAILED)
        for audit in audits
        if not audit.ok and audit.instance.name not in named
    ]
    return with_skipped(plan, extra)


def changed_since(plan: Plan, audits: Mapping[str, InstanceAudit]) -> list[str]:
    """The rows (``instance/app``) whose app another audit shows changed since the plan was
    made: another image, or another deployed version. Sent anyway, such a row would say
    ``old -> new`` where the server already runs something else, and its check that a new
    version went live would count from a stale version."""
    changed = []
    for row in plan.rows:
        audit = audits.get(row.instance)
        if audit is None or not audit.ok:
            continue  # nothing newer is known; the run reports what it meets
        app = next((a for a in audit.apps if a.name == row.app), None)
        if app is None or app.image != row.from_image or app.deployed_version != row.from_version:
            changed.append(row.key)
    return changed


def with_skipped(plan: Plan, extra: Sequence[SkippedRow]) -> Plan:
    return Plan(plan.rows, plan.skipped + tuple(extra), plan.action)


def skip_busy(plan: Plan, busy: Mapping[str, str]) -> Plan:
    """Rows on an instance this session is already changing move to skipped, saying with what."""
    if not busy:
        return plan
    moved = tuple(
        SkippedRow(row.instance, row.app, row.from_image, row.to_image,
                   f"busy: {busy[row.instance]}; try again after it ends", row.group,
                   row.added_by_group, SkipKind.BUSY)
        for row in plan.rows if row.instance in busy
    )
    kept = tuple(row for row in plan.rows if row.instance not in busy)
    return Plan(kept, moved + plan.skipped, plan.action)
