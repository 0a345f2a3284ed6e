"""What is new upstream: a repository's lookup, and what it means for one app.

``app_upstream`` is the single source of truth for an app's upstream state; the audit's JSON,
the table's NEWEST column, ``deploy --to-newest`` and ``targets bump`` all read it:

- ``current``: the app runs the newest tag of its line;
- ``behind``: it runs an older tag of that line;
- ``repushed``: it runs the newest tag, but the registry's image under that tag was created
  after the app was deployed (gc-comapeo-cloud is rebuilt weekly under one tag), so deploying
  the same image name again brings the new build;
- ``floating``: ``latest``, ``main``, a bare major: there is no older or newer, only moving;
- ``manual``: a server build (``img-captain-…``), which no registry holds;
- ``unknown``: the registry could not say, and ``error`` says why.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from gc_tui.core.images import (
    ImageRef,
    TagParts,
    is_floating_tag,
    is_server_build,
    is_valid_tag,
    tag_parts,
    try_parse_image,
)
from gc_tui.core.registry_errors import LookupProblem, RegistryError
from gc_tui.core.tag_order import (
    NO_FILTER,
    TagFilter,
    compare_parts,
    is_newer,
    line_of,
    main_line,
    newest_for,
    newest_in_line,
)
from gc_tui.core.timestamps import format_timestamp, parse_timestamp

TagRules = Callable[[str], TagFilter]  # normalised repository -> its include/exclude filter


def no_rules(_repository: str) -> TagFilter:
    """The rules when there is no targets file: every tag may count."""
    return NO_FILTER


class UpstreamState(StrEnum):
    CURRENT = "current"
    BEHIND = "behind"
    REPUSHED = "repushed"
    FLOATING = "floating"
    MANUAL = "manual"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class UpstreamError:
    """Why a lookup could not answer; ``str()`` is what follows ``unknown`` on screen."""

    problem: LookupProblem
    detail: str = ""
    retry_at: float | None = None  # epoch seconds, for a rate limit

    def __str__(self) -> str:
        return f"{self.problem} ({self.detail})" if self.detail else str(self.problem)

    @classmethod
    def of(cls, error: RegistryError) -> UpstreamError:
        return cls(error.problem, error.detail, error.retry_at)


@dataclass(frozen=True)
class TagDetails:
    """What the registry said about one tag; None where it was not asked or could not say."""

    digest: str | None = None
    created: datetime | None = None


@dataclass(frozen=True)
class RepositoryLookup:
    """One repository as its registry listed it, at ``checked_at``."""

    repository: str  # normalised: docker.io/library/postgres
    checked_at: datetime
    tags: tuple[str, ...] = ()
    details: Mapping[str, TagDetails] = field(default_factory=dict)
    error: UpstreamError | None = None
    truncated: bool = False  # the tag list was cut at the page cap
    from_cache: bool = False

    # newest_for's answers over this listing: the rows running one tag all ask the same, and
    # a fleet is thousands of rows on a few tags (bench_tui.py: 21 s of 52 s before).
    _newest: dict[tuple[str, TagFilter], str | None] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "details", MappingProxyType(dict(self.details)))

    def detail(self, tag: str | None) -> TagDetails:
        return self.details.get(tag or "", TagDetails())

    def newest_for(self, running: str, tag_filter: TagFilter = NO_FILTER) -> str | None:
        """``tag_order.newest_for`` over this listing, worked out once per tag and filter."""
        key = (running, tag_filter)
        if key not in self._newest:
            self._newest[key] = newest_for(running, self.tags, tag_filter)
        return self._newest[key]


@dataclass(frozen=True)
class AppUpstream:
    """One app's upstream state; ``newest`` is a tag, ``newest_image`` the image to deploy."""

    state: UpstreamState
    newest: str | None = None
    newest_image: str | None = None
    error: UpstreamError | None = None
    newest_details: TagDetails = TagDetails()
    running_details: TagDetails = TagDetails()

    def as_json(self) -> dict[str, Any]:
        """The three fields ``audit --upstream`` adds to each app."""
        return {
            "newest": self.newest,
            "upstream": self.state.value,
            "upstream_error": str(self.error) if self.error else None,
        }

    @property
    def label(self) -> str:
        """``behind``, or ``unknown (registry unreachable)``: the cell's text."""
        if self.state is UpstreamState.UNKNOWN and self.error is not None:
            return f"{self.state} ({self.error.problem})"
        return str(self.state)


def _unknown(problem: LookupProblem, detail: str = "") -> AppUpstream:
    return AppUpstream(UpstreamState.UNKNOWN, error=UpstreamError(problem, detail))


def image_with_tag(image_ref: ImageRef, tag: str) -> str:
    """The app's own spelling of its repository with ``tag``: ``postgres:17.6``, not docker.io/…"""
    name = f"{image_ref.registry}/{image_ref.path}" if image_ref.registry else image_ref.path
    return f"{name}:{tag}"


def _after(created: datetime | None, deployed_at: datetime | str | None) -> bool:
    deployed = parse_timestamp(deployed_at) if isinstance(deployed_at, str) else deployed_at
    return created is not None and deployed is not None and created > deployed


def _repushed(image_ref: ImageRef, newest: TagDetails, deployed_at: datetime | str | None) -> bool:
    """Whether the registry's image for the running tag is another than the app runs: by the
    digest when the reference pins one (it runs exactly that), else by the build time."""
    if image_ref.digest is not None:
        return newest.digest is not None and newest.digest != image_ref.digest
    return _after(newest.created, deployed_at)


def app_upstream(
    image: str | None,
    deployed_at: datetime | str | None,
    lookup: RepositoryLookup | None,
    tag_filter: TagFilter = NO_FILTER,
) -> AppUpstream:
    """The upstream state of an app running ``image`` since ``deployed_at`` (CapRover's
    timeStamp), given its repository's lookup and the targets file's filter for it."""
    if image is None:
        return _unknown(LookupProblem.NOT_AN_IMAGE, "no deployed image recorded")
    if is_server_build(image):
        return AppUpstream(UpstreamState.MANUAL)
    image_ref = try_parse_image(image)
    if image_ref is None:
        return _unknown(LookupProblem.NOT_AN_IMAGE, "not a valid image reference")
    running = image_ref.effective_tag
    if running is None:
        return _unknown(LookupProblem.NO_LINE, "pinned by digest, not by tag")
    if lookup is None:
        return _unknown(LookupProblem.NOT_LOOKED_UP)
    newest = lookup.newest_for(running, tag_filter)
    found = AppUpstream(
        UpstreamState.UNKNOWN,
        newest=newest,
        newest_image=image_with_tag(image_ref, newest) if newest else None,
        error=lookup.error,
        newest_details=lookup.detail(newest),
        running_details=lookup.detail(running),
    )
    if is_floating_tag(running):
        # latest, main, a bare major: floating even when a digest holds today's build of it.
        return _with(found, UpstreamState.FLOATING)
    if lookup.error is not None:
        return found
    if newest is None:
        line = line_of(running)
        detail = f"no {line.scheme} tag" if line else f"tag {running!r} follows no known scheme"
        return _with(found, UpstreamState.UNKNOWN, UpstreamError(LookupProblem.NO_LINE, detail))
    if is_newer(newest, running):
        return _with(found, UpstreamState.BEHIND)
    if newest == running and _repushed(image_ref, found.newest_details, deployed_at):
        return _with(found, UpstreamState.REPUSHED)
    if newest != running:
        # Ahead of every release listed (a pre-release, a tag the listing lacks): nothing
        # upstream is newer, and offering the listed "newest" would be a downgrade.
        ahead = replace(found, newest=running, newest_image=image_with_tag(image_ref, running),
                        newest_details=found.running_details)
        return _with(ahead, UpstreamState.CURRENT)
    return _with(found, UpstreamState.CURRENT)


def _with(
    found: AppUpstream, state: UpstreamState, error: UpstreamError | None = None
) -> AppUpstream:
    return AppUpstream(
        state,
        found.newest,
        found.newest_image,
        error if error is not None else found.error,
        found.newest_details,
        found.running_details,
    )


# -- per repository --------------------------------------------------------------------------


@dataclass(frozen=True)
class RepositorySummary:
    """One row of ``gc-tui upstream``."""

    repository: str
    newest: str | None
    digest: str | None
    created: datetime | None
    tags: int  # how many tags the registry listed
    error: UpstreamError | None
    truncated: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "repository": self.repository,
            "newest": self.newest,
            "digest": self.digest,
            "tags": self.tags,
            "error": str(self.error) if self.error else None,
        }

    @property
    def created_text(self) -> str | None:
        return format_timestamp(self.created) if self.created else None


def repository_newest(
    tags: Iterable[str], running_tags: Iterable[str], tag_filter: TagFilter = NO_FILTER
) -> str | None:
    """The repository's newest tag for the fleet: on the line most of its apps run.

    ``running_tags`` has one entry per app. Among lines run by as many apps, the one with the
    newest release wins. Apps on a named channel (``latest``) say nothing of a line; with only
    those, the line most releases follow stands in.
    """
    tags = list(tags)
    lines = Counter(line for tag in running_tags if (line := line_of(tag)) is not None)
    if not lines:
        line = main_line(tags, tag_filter)
        return newest_in_line(tags, line, tag_filter) if line else None
    best: tuple[int, str, TagParts] | None = None
    for line, apps in lines.items():
        newest = newest_in_line(tags, line, tag_filter)
        parts = tag_parts(newest)
        if newest is None or parts is None:
            continue
        if (
            best is None
            or apps > best[0]
            or (apps == best[0] and _comparable(parts, best[2])
                and compare_parts(parts, best[2]) > 0)
        ):
            best = (apps, newest, parts)
    return best[1] if best else None


def _comparable(a: TagParts, b: TagParts) -> bool:
    """Whether two lines' newest tags can be put in order: a tie between lines of different
    schemes (6.1.0 and 6.1.0_20260818-0907) keeps the first line rather than guess."""
    return a.scheme is b.scheme and len(a.key) == len(b.key)


def repository_summary(
    lookup: RepositoryLookup, running_tags: Iterable[str], tag_filter: TagFilter = NO_FILTER
) -> RepositorySummary:
    newest = repository_newest(lookup.tags, running_tags, tag_filter)
    error = lookup.error
    if error is None and newest is None:
        error = UpstreamError(LookupProblem.NO_LINE)
    details = lookup.detail(newest)
    return RepositorySummary(
        lookup.repository,
        newest,
        details.digest,
        details.created,
        len(lookup.tags),
        error,
        lookup.truncated,
    )


def wanted_tags(
    running_tags: Iterable[str], tags: Iterable[str], tag_filter: TagFilter = NO_FILTER
) -> tuple[set[str], set[str]]:
    """(tags whose image ``created`` is needed, tags whose digest is enough) for a lookup.

    The newest of every running line needs its ``created`` time (for ``repushed``, and for
    the detail view); the running tags themselves only a digest, which a free HEAD gives.
    """
    tags = list(tags)
    listed = set(tags)
    running = {tag for tag in running_tags if is_valid_tag(tag)}
    newest = {n for tag in running if (n := newest_for(tag, tags, tag_filter)) is not None}
    newest.add(repository_newest(tags, running, tag_filter) or "")
    newest.discard("")
    return newest, (running & listed) - newest


def running_tags_by_repository(images: Iterable[str | None]) -> dict[str, list[str]]:
    """Normalised repository -> the tag of each image from it (repeats kept: one per app).

    Server builds and invalid references are left out; they have no registry to ask.
    """
    result: dict[str, list[str]] = {}
    for image in images:
        if image is None or is_server_build(image):
            continue
        image_ref = try_parse_image(image)
        if image_ref is None:
            continue
        tags = result.setdefault(image_ref.repository, [])
        if image_ref.effective_tag is not None:
            tags.append(image_ref.effective_tag)
    return result
