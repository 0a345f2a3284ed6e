"""How far each app is from its target: the one function every view and the planner read.

``drift_of`` decides an app's state; nothing else should re-derive it from image strings.
Precedence, first match wins, and why:

1. ``manual``: a server build needs a human whatever its target says (an image deploy drops
   what the build added unless someone moved it into a Service Update Override first:
   docs/guardian-connector.md#server-builds), so no other state may offer it for a batch.
2. ``held``: a held repository (Postgres) is never batch-upgraded, target or not.
3. ``unmanaged``: no target, nothing to compare with.
4. ``unknown``: no deployed image recorded (a failed first deploy) or one we cannot parse.
5. ``current``: the same string, or the same repository, tag and digest once parsed.
6. ``floating``: ``latest``, ``main``, a bare major: whatever runs, it is not a known build.
7. ``other-repo``: a renamed or private-registry repository; the tag says nothing then.
8. ``stale`` / ``ahead`` / ``incomparable`` from the tag order.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from gc_tui.core.groups import SplitGroup, split_groups
from gc_tui.core.images import compare_tags, is_server_build, try_parse_image
from gc_tui.core.model import InstanceAudit, VersionInfo
from gc_tui.core.targets import Targets, is_held


class DriftState(StrEnum):
    CURRENT = "current"
    STALE = "stale"
    AHEAD = "ahead"
    OTHER_REPO = "other-repo"
    FLOATING = "floating"
    MANUAL = "manual"
    HELD = "held"
    UNMANAGED = "unmanaged"
    MISSING = "missing"
    INCOMPARABLE = "incomparable"
    UNKNOWN = "unknown"


# What `deploy --to-targets` plans. `ahead` is left out on purpose: deploying the target there
# would be a downgrade, which only an explicit per-app choice should do.
DEPLOYABLE_STATES: frozenset[DriftState] = frozenset(
    {DriftState.STALE, DriftState.OTHER_REPO, DriftState.FLOATING}
)


@dataclass(frozen=True)
class Drift:
    state: DriftState
    target: str | None
    detail: str  # one short sentence for the operator

    @property
    def deployable(self) -> bool:
        return self.state in DEPLOYABLE_STATES

    @property
    def differs(self) -> bool:
        """A target exists and the app is not on it (held apps are not counted as differing)."""
        return self.target is not None and self.state not in (DriftState.CURRENT, DriftState.HELD)


def drift_of(app_name: str, image: str | None, targets: Targets) -> Drift:
    """The state of one app; see the module docstring for the precedence."""
    target = targets.target_for(app_name)
    if image is not None and is_server_build(image):
        return Drift(DriftState.MANUAL, target, f"{image} was built on the server; upgrade by hand")
    if image is not None and is_held(image, targets.hold_repositories):
        return Drift(DriftState.HELD, target, f"{image} is held: never batch-upgraded")
    if target is None:
        return Drift(DriftState.UNMANAGED, None, "no target for this app")
    if image is None:
        return Drift(DriftState.UNKNOWN, target, "no deployed image recorded")

    deployed_ref = try_parse_image(image)
    target_ref = try_parse_image(target)
    assert target_ref is not None  # Targets validates its images
    if deployed_ref is None:
        return Drift(
            DriftState.UNKNOWN, target, f"deployed image {image!r} is not a valid reference"
        )
    same_repository = deployed_ref.repository == target_ref.repository
    deployed_tag, target_tag = deployed_ref.effective_tag, target_ref.effective_tag
    if image == target or (
        same_repository and deployed_tag == target_tag and deployed_ref.digest == target_ref.digest
    ):
        return Drift(DriftState.CURRENT, target, f"on target {target_tag or target_ref.digest}")
    if deployed_ref.floating:
        return Drift(
            DriftState.FLOATING, target, f"floating tag {deployed_tag}; target {target_tag}"
        )
    if not same_repository:
        return Drift(
            DriftState.OTHER_REPO,
            target,
            f"{deployed_ref.familiar_repository} -> {target_ref.familiar_repository}",
        )
    if deployed_tag is None or target_tag is None or deployed_tag == target_tag:
        # Same repository and tag, different or missing digest: the tag cannot tell them apart.
        return Drift(
            DriftState.INCOMPARABLE,
            target,
            f"{image} and {target} differ only by digest; cannot tell which is newer",
        )
    order = compare_tags(deployed_tag, target_tag)
    if order is None or order == 0:
        # order 0 with different strings: "v1.2" vs "1.2.0" order alike but are other tags.
        return Drift(
            DriftState.INCOMPARABLE,
            target,
            f"tags {deployed_tag} and {target_tag} cannot be ordered",
        )
    state = DriftState.STALE if order < 0 else DriftState.AHEAD
    return Drift(state, target, f"{deployed_tag} -> {target_tag}")


# --- CapRover versions ------------------------------------------------------------------------

_VERSION = re.compile(r"v?(\d+(?:\.\d+)*)")


def compare_versions(a: str, b: str) -> int | None:
    """Order CapRover versions (``1.13.1`` < ``1.15.3``); None when either is not dotted numbers."""
    a_match, b_match = _VERSION.fullmatch(a.strip()), _VERSION.fullmatch(b.strip())
    if a_match is None or b_match is None:
        return None
    a_parts = [int(p) for p in a_match[1].split(".")]
    b_parts = [int(p) for p in b_match[1].split(".")]
    width = max(len(a_parts), len(b_parts))
    a_parts += [0] * (width - len(a_parts))
    b_parts += [0] * (width - len(b_parts))
    return (a_parts > b_parts) - (a_parts < b_parts)


def newest_version(versions: Iterable[str]) -> str | None:
    """The newest of the CapRover versions that parse; None when none does."""
    newest: str | None = None
    for version in versions:
        if compare_versions(version, version) is None:
            continue
        if newest is None or (compare_versions(version, newest) or 0) > 0:
            newest = version
    return newest


def caprover_behind(version: VersionInfo | None, fleet_newest: str | None) -> str | None:
    """Why this CapRover looks out of date, or None.

    ``can_update`` False also means the server could not check, and ``latest`` then simply
    repeats ``current``; so the fleet's newest version is compared independently.
    """
    if version is None:
        return None
    reasons: list[str] = []
    if (compare_versions(version.current, version.latest) or 0) < 0:
        reasons.append(f"latest release is {version.latest}")
    elif version.can_update:
        reasons.append("the server reports an update")
    if fleet_newest is not None and (compare_versions(version.current, fleet_newest) or 0) < 0:
        reasons.append(f"the fleet runs up to {fleet_newest}")
    if not reasons:
        return None
    return f"CapRover {version.current}: " + "; ".join(reasons)


# --- per instance -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AppDrift:
    app: str
    image: str | None
    drift: Drift


@dataclass(frozen=True)
class InstanceDrift:
    """Everything the audit shows about one instance against the targets.

    For an instance that did not answer, ``apps`` and ``missing`` are empty: nothing is known,
    and an empty list must not read as "nothing missing" (check ``known``).
    """

    instance: str
    known: bool
    apps: tuple[AppDrift, ...]
    missing_apps: tuple[AppDrift, ...]  # state ``missing``: target apps absent here
    split_groups: tuple[SplitGroup, ...]
    caprover_behind: str | None

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(row.app for row in self.missing_apps)

    @property
    def rows(self) -> tuple[AppDrift, ...]:
        """The apps on the instance, then the missing ones, for tables that list both."""
        return self.apps + self.missing_apps

    @property
    def differing(self) -> tuple[AppDrift, ...]:
        """Apps on the instance that are not on their target (missing apps not included)."""
        return tuple(row for row in self.apps if row.drift.differs)

    def in_state(self, state: DriftState) -> tuple[AppDrift, ...]:
        return tuple(row for row in self.rows if row.drift.state is state)


def instance_drift(
    audit: InstanceAudit, targets: Targets, *, fleet_newest_caprover: str | None
) -> InstanceDrift:
    """Drift of every app on one instance, missing target apps, split groups, CapRover age.

    Missing is deliberately simple: every target app name absent from the instance.
    """
    behind = caprover_behind(audit.version, fleet_newest_caprover)
    if not audit.ok:
        return InstanceDrift(
            instance=audit.instance.name,
            known=False,
            apps=(),
            missing_apps=(),
            split_groups=(),
            caprover_behind=behind,
        )
    present = {app.name for app in audit.apps}
    return InstanceDrift(
        instance=audit.instance.name,
        known=True,
        apps=tuple(
            AppDrift(app=app.name, image=app.image, drift=drift_of(app.name, app.image, targets))
            for app in audit.apps
        ),
        missing_apps=tuple(
            AppDrift(
                app=name,
                image=None,
                drift=Drift(DriftState.MISSING, target, "not on this instance"),
            )
            for name, target in targets.images.items()
            if name not in present
        ),
        split_groups=tuple(split_groups(audit.apps, extra_groups=targets.groups)),
        caprover_behind=behind,
    )
