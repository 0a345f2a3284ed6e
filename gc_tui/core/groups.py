"""Service groups: apps that must run one image (Superset's three apps, Windmill's three).

How members are found, and why:

* An explicit group (the targets file's ``[groups]``) lists app names; it wins.
* Otherwise the one-click naming convention decides: the templates name their services
  ``$$cap_appname``, ``$$cap_appname-worker``, ``$$cap_appname-init-and-beat`` (Superset) and
  ``…-worker``, ``…-worker-native`` (Windmill), so any base name works, including the test
  stack's ``test-superset``.
* CapRover's one-click tag and ``projectId`` are used to *narrow* that set, never to widen it:
  the upstream Windmill template puts ``windmill-postgres`` and ``windmill-lsp`` in the same
  project and tag although they run other images, so a tag or project alone over-collects.
  Two apps whose projects (or one-click tags) both exist and differ came from different
  installs and are not one group.

A member on a server build (``img-captain-…``) is still a member; the deploy plan decides what
to do with it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from gc_tui.core.images import is_server_build, same_image
from gc_tui.core.model import AppInfo

BUILTIN_GROUPS: dict[str, tuple[str, ...]] = {
    "superset": ("superset", "superset-worker", "superset-init-and-beat"),
    "windmill": ("windmill", "windmill-worker", "windmill-worker-native"),
}


def _member_suffixes() -> tuple[str, ...]:
    suffixes = {
        member[len(base) :]
        for base, members in BUILTIN_GROUPS.items()
        for member in members
        if member != base and member.startswith(base)
    }
    # Longest first, so "x-worker-native" strips to "x", not to "x-worker" + "-native".
    return tuple(sorted(suffixes, key=len, reverse=True))


MEMBER_SUFFIXES: tuple[str, ...] = _member_suffixes()

_NO_EXTRA_GROUPS: Mapping[str, Sequence[str]] = {}


def base_name(app_name: str) -> str:
    """The one-click app name a service belongs to.

    ``test-superset-worker`` -> ``test-superset``.
    """
    for suffix in MEMBER_SUFFIXES:
        if app_name.endswith(suffix) and len(app_name) > len(suffix):
            return app_name[: -len(suffix)]
    return app_name


def _same_install(a: AppInfo, b: AppInfo) -> bool:
    other_project = bool(a.project_id and b.project_id) and a.project_id != b.project_id
    other_one_click = bool(a.tags and b.tags) and not set(a.tags) & set(b.tags)
    return not (other_project or other_one_click)


def group_members(
    app_name: str,
    apps: Sequence[AppInfo],
    *,
    extra_groups: Mapping[str, Sequence[str]] = _NO_EXTRA_GROUPS,
) -> tuple[str, tuple[str, ...]] | None:
    """(group name, every member on this instance including ``app_name``), or None.

    None when ``app_name`` is not on the instance or no other member of its group is: a group
    of one has nothing to keep in step.
    """
    by_name = {app.name: app for app in apps}
    if app_name not in by_name:
        return None
    for group_name, listed in extra_groups.items():
        if app_name in listed:
            present = tuple(name for name in listed if name in by_name)
            return (group_name, present) if len(present) > 1 else None

    base = base_name(app_name)
    candidates = {base, *(base + suffix for suffix in MEMBER_SUFFIXES)}
    anchor = by_name[app_name]
    members = tuple(
        app.name
        for app in apps
        if app.name in candidates
        and not _explicitly_grouped(app.name, extra_groups)
        and _same_install(anchor, app)
    )
    return (base, members) if len(members) > 1 else None


def _explicitly_grouped(app_name: str, extra_groups: Mapping[str, Sequence[str]]) -> bool:
    return any(app_name in listed for listed in extra_groups.values())


def instance_groups(
    apps: Sequence[AppInfo],
    *,
    extra_groups: Mapping[str, Sequence[str]] = _NO_EXTRA_GROUPS,
) -> list[tuple[str, tuple[str, ...]]]:
    """Every group on one instance, each once, in the order its first member appears."""
    seen: set[str] = set()
    groups: list[tuple[str, tuple[str, ...]]] = []
    for app in apps:
        if app.name in seen:
            continue
        group = group_members(app.name, apps, extra_groups=extra_groups)
        if group is not None:
            seen.update(group[1])
            groups.append(group)
    return groups


@dataclass(frozen=True)
class SplitGroup:
    """A group whose members run different images: a half-finished upgrade."""

    name: str
    members: tuple[tuple[str, str | None], ...]  # (app name, deployed image), instance order

    @property
    def detail(self) -> str:
        return f"{self.name}: " + ", ".join(f"{app} on {image}" for app, image in self.members)


def split_groups(
    apps: Sequence[AppInfo],
    *,
    extra_groups: Mapping[str, Sequence[str]] = _NO_EXTRA_GROUPS,
) -> list[SplitGroup]:
    """Groups whose members run different registry images.

    Server builds are left out of the comparison: ``img-captain-superset-worker:0`` does not say
    which image it was built from, so it cannot show a split (the ``manual`` state already flags
    it). A member with no recorded image is left out for the same reason.
    """
    by_name = {app.name: app for app in apps}
    result: list[SplitGroup] = []
    for name, member_names in instance_groups(apps, extra_groups=extra_groups):
        members = tuple((member, by_name[member].image) for member in member_names)
        comparable = [
            image for _, image in members if image is not None and not is_server_build(image)
        ]
        if any(not same_image(comparable[0], image) for image in comparable[1:]):
            result.append(SplitGroup(name=name, members=members))
    return result
