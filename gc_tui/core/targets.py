"""Target images and service groups, kept in a small TOML file.

```
[targets]                 # app name -> image
explorer = "communityfirst/guardianconnector-explorer:20260731-948"
[groups]                  # optional; the built-in Superset and Windmill groups apply anyway
reports = ["reports", "reports-cron"]
[hold]                    # optional; absent means ["postgres"], an empty list holds nothing
repositories = ["postgres"]
[upstream."postgres"]     # optional; which registry tags may count as "newest" (searched regexes)
include = "^17(\\.\\d+)?$"
exclude = "-rc"
```

The file is strict: an unknown table or key is an error naming the file, because a misspelt
``[hold]`` would otherwise silently let Postgres into a batch deploy. Saving rewrites the whole
file, so comments in a hand-edited file do not survive a save.
"""

from __future__ import annotations

import os
import re
import tempfile
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

import tomli_w

from gc_tui.core.images import (
    InvalidImage,
    compare_tags,
    is_server_build,
    parse_image,
    try_parse_image,
)
from gc_tui.core.model import InstanceAudit
from gc_tui.core.tag_order import NO_FILTER, TagFilter, TagFilterError

DEFAULT_HOLD: tuple[str, ...] = ("postgres",)

# CapRover's own rule for app names (lower-case letters, digits and '-').
_APP_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")
_TOP_LEVEL = ("targets", "groups", "hold", "upstream")
_HOLD_KEYS = ("repositories",)
_UPSTREAM_KEYS = ("include", "exclude")


class TargetsError(ValueError):
    """A targets file (or mapping) that cannot be used; the message names file, key, problem."""


def _where(path: Path | None) -> str:
    return str(path) if path is not None else "<targets>"


def load_or_new_targets(path: Path, hold_repositories: Sequence[str]) -> Targets:
    """The targets file at ``path``, or, when there is none yet, an empty one holding what the
    config holds: a new file's ``[hold]`` wins over the config from then on, so starting it
    with the default (postgres alone) would quietly release the config's other holds."""
    if path.exists():
        return load_targets(path)
    return Targets(images={}, path=path, hold_repositories=tuple(hold_repositories))


def is_held(image: str, hold_repositories: Sequence[str]) -> bool:
    """True when ``image`` comes from a held repository (``postgres`` = ``library/postgres``)."""
    image_ref = try_parse_image(image)
    if image_ref is None:
        return False
    for held in hold_repositories:
        held_ref = try_parse_image(held)
        if held_ref is not None and held_ref.repository == image_ref.repository:
            return True
    return False


@dataclass(frozen=True)
class Targets:
    """What every app should run. Validated on construction, so a Targets is always usable."""

    images: Mapping[str, str]
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    hold_repositories: tuple[str, ...] = DEFAULT_HOLD
    path: Path | None = None
    # Repository as written in the file -> which of its tags may count as "newest".
    upstream: Mapping[str, TagFilter] = field(default_factory=dict)

    def __post_init__(self) -> None:
        where = _where(self.path)
        for app_name, image in self.images.items():
            _check_app_name(where, "targets", app_name)
            _check_image(where, f"[targets] {app_name}", image)
        for group_name, members in self.groups.items():
            _check_group(where, group_name, members)
        for repository in self.hold_repositories:
            _check_repository(where, "[hold] repositories", repository)
        by_repository: dict[str, str] = {}
        for repository, tag_filter in self.upstream.items():
            key = f'[upstream."{repository}"]'
            normalised = _check_repository(where, key, repository)
            if not isinstance(tag_filter, TagFilter):
                raise TargetsError(f"{where}: {key}: expected include/exclude patterns")
            if normalised in by_repository:
                raise TargetsError(
                    f"{where}: {key}: the same repository as "
                    f'[upstream."{by_repository[normalised]}"]'
                )
            by_repository[normalised] = repository
        # Freeze the mappings so a Targets cannot change under the code that read it.
        object.__setattr__(self, "images", MappingProxyType(dict(self.images)))
        object.__setattr__(
            self,
            "groups",
            MappingProxyType({name: tuple(members) for name, members in self.groups.items()}),
        )
        object.__setattr__(self, "hold_repositories", tuple(self.hold_repositories))
        object.__setattr__(self, "upstream", MappingProxyType(dict(self.upstream)))

    def target_for(self, app_name: str) -> str | None:
        return self.images.get(app_name)

    def tag_filter_for(self, repository: str) -> TagFilter:
        """The ``[upstream]`` filter of a repository (any spelling: ``postgres`` or
        ``docker.io/library/postgres``), or one that admits every tag."""
        image_ref = try_parse_image(repository)
        if image_ref is None:
            return NO_FILTER
        for written, tag_filter in self.upstream.items():
            if parse_image(written).repository == image_ref.repository:
                return tag_filter
        return NO_FILTER


def _check_app_name(where: str, table: str, app_name: str) -> None:
    if not _APP_NAME.fullmatch(app_name):
        raise TargetsError(
            f"{where}: [{table}] {app_name!r}: an app name uses only lower-case letters, "
            "digits and '-'"
        )


def _check_image(where: str, key: str, image: object) -> None:
    if not isinstance(image, str):
        raise TargetsError(f"{where}: {key}: expected an image name (a string), got {_kind(image)}")
    try:
        parse_image(image)
    except InvalidImage as exc:
        raise TargetsError(f"{where}: {key}: {exc}") from None
    if is_server_build(image):
        raise TargetsError(
            f"{where}: {key}: {image!r} is a CapRover server build; "
            "a target must be a registry image"
        )


def _check_group(where: str, group_name: str, members: object) -> None:
    key = f"[groups] {group_name}"
    if not isinstance(members, (list, tuple)) or not all(isinstance(m, str) for m in members):
        raise TargetsError(f"{where}: {key}: expected a list of app names, got {_kind(members)}")
    if len(members) < 2:
        raise TargetsError(f"{where}: {key}: a group needs at least two apps")
    if len(set(members)) != len(members):
        raise TargetsError(f"{where}: {key}: an app is listed twice")
    for member in members:
        _check_app_name(where, "groups", member)


def _check_repository(where: str, key: str, repository: object) -> str:
    """The normalised repository; a hold or a filter covers a whole repository, so no tag."""
    if not isinstance(repository, str):
        raise TargetsError(f"{where}: {key}: expected repository names, got {_kind(repository)}")
    try:
        named = parse_image(repository)
    except InvalidImage as exc:
        raise TargetsError(f"{where}: {key}: {exc}") from None
    if named.tag is not None or named.digest is not None:
        raise TargetsError(
            f"{where}: {key}: {repository!r} names a tag; this covers a whole repository"
        )
    return named.repository


def _upstream_filters(where: str, table: dict[str, Any]) -> dict[str, TagFilter]:
    filters: dict[str, TagFilter] = {}
    for repository, patterns in table.items():
        key = f'[upstream."{repository}"]'
        if not isinstance(patterns, dict):
            raise TargetsError(f"{where}: {key}: expected a table, got {_kind(patterns)}")
        for name, value in patterns.items():
            if name not in _UPSTREAM_KEYS:
                raise TargetsError(
                    f"{where}: {key} {name}: unknown key; expected 'include' or 'exclude'"
                )
            if not isinstance(value, str) or not value:
                raise TargetsError(
                    f"{where}: {key} {name}: expected a regular expression (a string), "
                    f"got {_kind(value)}"
                )
        try:
            filters[repository] = TagFilter(patterns.get("include"), patterns.get("exclude"))
        except TagFilterError as exc:
            raise TargetsError(f"{where}: {key} {exc}") from None
    return filters


def _kind(value: object) -> str:
    return {str: "a string", list: "a list", dict: "a table", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )


def load_targets(path: Path) -> Targets:
    """Read and validate a targets file; every problem is a TargetsError naming the file."""
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise TargetsError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise TargetsError(f"{path}: not UTF-8 text") from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message carries "(at line N, column M)".
        raise TargetsError(f"{path}: TOML syntax error: {exc}") from None
    return _from_document(path, document)


def _from_document(path: Path, document: dict[str, Any]) -> Targets:
    where = str(path)
    for key in document:
        if key not in _TOP_LEVEL:
            raise TargetsError(
                f"{where}: [{key}]: unknown table; expected one of {', '.join(_TOP_LEVEL)}"
            )
    tables = {key: document.get(key, {}) for key in _TOP_LEVEL}
    for key, table in tables.items():
        if not isinstance(table, dict):
            raise TargetsError(f"{where}: {key}: expected a table [{key}], got {_kind(table)}")

    hold_table = tables["hold"]
    for key in hold_table:
        if key not in _HOLD_KEYS:
            raise TargetsError(f"{where}: [hold] {key}: unknown key; expected 'repositories'")
    hold: object = hold_table.get("repositories", list(DEFAULT_HOLD))
    if not isinstance(hold, list):
        raise TargetsError(f"{where}: [hold] repositories: expected a list, got {_kind(hold)}")

    groups = tables["groups"]
    for group_name, members in groups.items():
        _check_group(where, group_name, members)
    return Targets(
        images=tables["targets"],
        groups={name: tuple(members) for name, members in groups.items()},
        hold_repositories=tuple(hold),
        path=path,
        upstream=_upstream_filters(where, tables["upstream"]),
    )


def targets_from_mapping(
    images: Mapping[str, str],
    *,
    groups: Mapping[str, Sequence[str]] | None = None,
    hold_repositories: Sequence[str] = DEFAULT_HOLD,
    upstream: Mapping[str, Mapping[str, str]] | None = None,
) -> Targets:
    """Targets from plain data (the demo fleet's ``target_images``), validated like a file.

    ``upstream`` maps a repository to ``{"include": ..., "exclude": ...}`` as the file does.
    """
    return Targets(
        images=dict(images),
        groups={name: tuple(members) for name, members in (groups or {}).items()},
        hold_repositories=tuple(hold_repositories),
        upstream=_upstream_filters("<targets>", {k: dict(v) for k, v in (upstream or {}).items()}),
    )


def dump_targets(targets: Targets) -> str:
    """The TOML text save_targets writes: what ``targets bump`` shows as a diff."""
    document: dict[str, Any] = {"targets": dict(sorted(targets.images.items()))}
    if targets.groups:
        document["groups"] = {name: list(members) for name, members in targets.groups.items()}
    document["hold"] = {"repositories": list(targets.hold_repositories)}
    if targets.upstream:
        document["upstream"] = {
            repository: {
                name: value
                for name, value in (("include", f.include), ("exclude", f.exclude))
                if value is not None
            }
            for repository, f in sorted(targets.upstream.items())
        }
    return tomli_w.dumps(document)


def save_targets(path: Path, targets: Targets) -> None:
    """Write atomically (temp file in the same directory, then rename), mode 0600."""
    payload = dump_targets(targets).encode("utf-8")

    # mkstemp creates the file 0600, so it is never readable by others, even briefly.
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp_name, 0o600)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


# --- pinning ----------------------------------------------------------------------------------


class PinError(ValueError):
    """The instance cannot serve as a reference (it did not answer)."""


@dataclass(frozen=True)
class PinChange:
    app: str
    old: str | None  # None: the app had no target before
    new: str

    @property
    def downgrade(self) -> bool:
        """The new target is an older build of the same repository than the current one."""
        if self.old is None:
            return False
        old_ref, new_ref = try_parse_image(self.old), try_parse_image(self.new)
        if old_ref is None or new_ref is None or old_ref.repository != new_ref.repository:
            return False
        if old_ref.tag is None or new_ref.tag is None:
            return False
        order = compare_tags(new_ref.tag, old_ref.tag)
        return order is not None and order < 0

    def describe(self) -> str:
        """``app: old -> new``, saying so when the new target is older."""
        older = "  (OLDER than the current target)" if self.downgrade else ""
        return f"{self.app}: {self.old or '(no target yet)'} -> {self.new}{older}"


@dataclass(frozen=True)
class PinSkip:
    app: str
    image: str | None
    reason: str


@dataclass(frozen=True)
class PinReport:
    targets: Targets
    changes: tuple[PinChange, ...]
    skipped: tuple[PinSkip, ...]


def plan_pin(
    targets: Targets, audit: InstanceAudit, *, include_unmanaged: bool = False
) -> PinReport:
    """Take what ``audit``'s instance runs now as the targets of its apps; report the changes.

    Not pinned, each with a reason: server builds (no registry image to deploy elsewhere), held
    repositories, floating tags (a target must name one build), apps with no recorded image,
    and, unless ``include_unmanaged``, apps without a target, so that pinning from staging does
    not quietly put its custom apps under batch control. Other targets are kept.
    """
    if not audit.ok:
        raise PinError(
            f"cannot pin from {audit.instance.name}: it answered {audit.status.value}"
            + (f" ({audit.error})" if audit.error else "")
        )
    images = dict(targets.images)
    changes: list[PinChange] = []
    skipped: list[PinSkip] = []
    for app in audit.apps:
        reason = _pin_refusal(app.name, app.image, targets, include_unmanaged)
        if reason is not None:
            skipped.append(PinSkip(app=app.name, image=app.image, reason=reason))
            continue
        assert app.image is not None
        old = images.get(app.name)
        if old != app.image:
            changes.append(PinChange(app=app.name, old=old, new=app.image))
            images[app.name] = app.image
    pinned = replace(targets, images=images)
    return PinReport(targets=pinned, changes=tuple(changes), skipped=tuple(skipped))


def _pin_refusal(
    app_name: str, image: str | None, targets: Targets, include_unmanaged: bool
) -> str | None:
    if image is None:
        return "no deployed image recorded"
    if is_server_build(image):
        return "server build (img-captain); not a registry image"
    if is_held(image, targets.hold_repositories):
        return "held repository"
    image_ref = try_parse_image(image)
    if image_ref is None:
        return "not a valid image reference"
    if image_ref.floating:
        return f"floating tag {image_ref.effective_tag}; a target must name one build"
    if not include_unmanaged and app_name not in targets.images:
        return "no target yet (unmanaged)"
    return None


def pin_from_instance(targets: Targets, audit: InstanceAudit) -> Targets:
    """The targets after pinning from ``audit``; use plan_pin to see what changed."""
    return plan_pin(targets, audit).targets
