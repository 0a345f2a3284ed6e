"""From lookups to actions: the upstream state of each audited app, ``deploy --to-newest``'s
selection, and ``targets bump``'s new targets with the diff to show before writing.

All of it reads ``upstream.app_upstream``, so the table, the plan and the bump agree.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from gc_tui.core.images import parse_image, try_parse_image
from gc_tui.core.model import AppInfo, InstanceAudit
from gc_tui.core.plan import DeployTarget, row_key
from gc_tui.core.tag_order import is_newer, newest_for
from gc_tui.core.targets import PinChange, PinReport, PinSkip, Targets, dump_targets, is_held
from gc_tui.core.upstream import (
    AppUpstream,
    RepositoryLookup,
    TagRules,
    UpstreamState,
    app_upstream,
    image_with_tag,
    no_rules,
    running_tags_by_repository,
)


def wanted_repositories(audits: Iterable[InstanceAudit]) -> dict[str, list[str]]:
    """Every repository the audited apps run, with the tags they run: what to look up."""
    return running_tags_by_repository(
        app.image for audit in audits if audit.ok for app in audit.apps
    )


def wanted_for_targets(targets: Targets) -> dict[str, list[str]]:
    """The repositories of a targets file, with its tags: what ``targets bump`` looks up."""
    return running_tags_by_repository(targets.images.values())


def upstream_of_app(
    app: AppInfo, lookups: Mapping[str, RepositoryLookup], rules: TagRules = no_rules
) -> AppUpstream:
    """``app_upstream`` for an audited app, with its repository's lookup and filter."""
    image_ref = try_parse_image(app.image) if app.image else None
    repository = image_ref.repository if image_ref else ""
    return app_upstream(app.image, app.deployed_at, lookups.get(repository), rules(repository))


@dataclass(frozen=True)
class NewestSelection:
    """What ``deploy --to-newest`` asks ``plan.build_plan`` for.

    ``redeploys`` are the row keys (``instance/app``) asked to deploy the image they already
    run, because it was re-pushed; build_plan skips such rows as "already on the target image"
    unless PlanOptions.redeploy names them.
    """

    targets: tuple[DeployTarget, ...]
    redeploys: frozenset[str] = frozenset()


def to_newest_selection(
    audits: Sequence[InstanceAudit],
    lookups: Mapping[str, RepositoryLookup],
    rules: TagRules = no_rules,
    *,
    include_repushed: bool = False,
) -> NewestSelection:
    """Every ``behind`` app to its repository's newest tag (and, when asked, every
    ``repushed`` one to the same image again). Groups, holds, server builds and failed
    instances are left to build_plan, which expands and skips them as in any plan."""
    wanted: list[DeployTarget] = []
    redeploys: set[str] = set()
    for audit in audits:
        if not audit.ok:
            continue
        for app in audit.apps:
            upstream = upstream_of_app(app, lookups, rules)
            name = audit.instance.name
            if upstream.state is UpstreamState.BEHIND and upstream.newest_image is not None:
                wanted.append(DeployTarget(name, app.name, upstream.newest_image))
            elif include_repushed and upstream.state is UpstreamState.REPUSHED and app.image:
                # The tag again, without a digest the app may pin: that digest is the old
                # build, and deploying it again would pick up nothing.
                wanted.append(DeployTarget(name, app.name, upstream.newest_image or app.image))
                redeploys.add(row_key(name, app.name))
    return NewestSelection(tuple(wanted), frozenset(redeploys))


def bump_targets(targets: Targets, lookups: Mapping[str, RepositoryLookup]) -> PinReport:
    """Each target moved to the newest tag of its own line; skips say why not.

    Held repositories, floating tags and failed lookups are left as they are. The result's
    ``targets`` is what ``save_targets`` should write once the operator has seen the diff.
    """
    images = dict(targets.images)
    changes: list[PinChange] = []
    skipped: list[PinSkip] = []
    for app_name, image in sorted(targets.images.items()):
        image_ref = parse_image(image)
        repository = image_ref.repository

        def skip(reason: str, image: str = image, app_name: str = app_name) -> None:
            skipped.append(PinSkip(app_name, image, reason))

        lookup = lookups.get(repository)
        running = image_ref.effective_tag
        if is_held(image, targets.hold_repositories):
            skip("held repository")
        elif image_ref.floating or running is None:
            skip("floating tag; a target names one build")
        elif lookup is None:
            skip("not looked up")
        elif lookup.error is not None:
            skip(str(lookup.error))
        else:
            newest = newest_for(running, lookup.tags, targets.tag_filter_for(repository))
            if newest is None:
                skip("no tag of the running scheme")
            elif is_newer(newest, running):
                bumped = image_with_tag(image_ref, newest)
                changes.append(PinChange(app_name, image, bumped))
                images[app_name] = bumped
    return PinReport(replace(targets, images=images), tuple(changes), tuple(skipped))


def targets_diff(new: Targets, current_text: str, label: str = "targets.toml") -> str:
    """A unified diff from the file as it is now to what saving ``new`` would write."""
    return "".join(
        difflib.unified_diff(
            current_text.splitlines(keepends=True),
            dump_targets(new).splitlines(keepends=True),
            fromfile=f"{label} (now)",
            tofile=f"{label} (bumped)",
        )
    )
