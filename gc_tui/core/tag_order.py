"""Which tag of a repository is the newest one for an app: the highest of the running tag's line.

A registry lists tags in lexical order (or, on GHCR, oldest first), so the order says nothing
about which is newer; gc-tui orders them by meaning, with the parts from ``images.tag_parts``.
Tools that order with generic semver rules get our two date-build schemes wrong, which is why
this is our own (docs/registries.md, "Choosing the newest tag").

A *line* is the set of tags that can replace one another: the same scheme, the same ``v``
prefix, the same variant (``-alpine``, ``-s6``), and for semver the same number of parts
(``17.6`` is not replaced by ``17.6.1``). Pre-releases and floating tags never count as newest.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from gc_tui.core.images import TagParts, TagScheme, cmp_numbers, is_floating_tag, tag_parts


class TagFilterError(ValueError):
    """An include or exclude pattern that is not a regular expression."""


@dataclass(frozen=True)
class TagFilter:
    """A repository's ``include`` and ``exclude`` regexes; a tag counts if both agree.

    The patterns are searched, not matched whole, as Diun and WUD do: anchor them (``^17\\.``)
    to pin a prefix.
    """

    include: str | None = None
    exclude: str | None = None
    _include: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)
    _exclude: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("include", "exclude"):
            pattern = getattr(self, name)
            if pattern is None:
                continue
            try:
                object.__setattr__(self, f"_{name}", re.compile(pattern))
            except re.error as err:
                raise TagFilterError(
                    f"{name} {pattern!r} is not a regular expression: {err}"
                ) from None

    def admits(self, tag: str) -> bool:
        if self._include is not None and self._include.search(tag) is None:
            return False
        return self._exclude is None or self._exclude.search(tag) is None


NO_FILTER = TagFilter()


@dataclass(frozen=True)
class TagLine:
    """Tags that can replace one another; see the module docstring."""

    scheme: TagScheme  # semver, date-run or version-timestamp, never floating
    prefix: str = ""
    variant: str = ""
    precision: int | None = None  # semver: how many numbers; None: any
    major: int | None = None  # the line under a bare major (``v2``, ``17``) keeps that major

    def holds(self, parts: TagParts) -> bool:
        if (parts.scheme, parts.prefix, parts.variant) != (self.scheme, self.prefix, self.variant):
            return False
        if self.precision is not None and parts.precision != self.precision:
            return False
        return self.major is None or parts.key[0][0] == self.major


def line_of(tag: str | None) -> TagLine | None:
    """The line a running tag belongs to; None for named channels and unknown schemes.

    A bare major (``v2``, ``17-alpine``) floats over the semver line under it, so its line is
    that one: ``v2`` -> ``v2.x.y``, ``17-alpine`` -> ``17.x-alpine``.
    """
    parts = tag_parts(tag)
    if parts is None:
        return None
    if parts.scheme is TagScheme.FLOATING:
        return TagLine(TagScheme.SEMVER, parts.prefix, parts.variant, None, parts.key[0][0])
    return line_of_parts(parts)


def line_of_parts(parts: TagParts) -> TagLine:
    """The line of a pinned tag (a pre-release belongs to the line of its release)."""
    if parts.scheme is TagScheme.SEMVER:
        return TagLine(parts.scheme, parts.prefix, parts.variant, parts.precision)
    return TagLine(parts.scheme, parts.prefix, parts.variant)


def compare_parts(a: TagParts, b: TagParts) -> int:
    """Order two tags of one line: numbers as numbers, a release after its pre-releases."""
    for a_part, b_part in zip(a.key, b.key, strict=True):
        order = cmp_numbers(a_part, b_part)
        if order:
            return order
    if bool(a.prerelease) != bool(b.prerelease):
        return -1 if a.prerelease else 1
    # Among equal releases the longer spelling (17.6.0 over 17.6) is the more precise pin.
    return (a.precision > b.precision) - (a.precision < b.precision)


def _releases(tags: Iterable[str], tag_filter: TagFilter) -> Iterable[tuple[str, TagParts]]:
    for tag in tags:
        parts = tag_parts(tag)
        if parts is None or parts.prerelease or parts.scheme is TagScheme.FLOATING:
            continue
        if tag_filter.admits(tag):
            yield tag, parts


def newest_in_line(
    tags: Iterable[str], line: TagLine, tag_filter: TagFilter = NO_FILTER
) -> str | None:
    """The highest release of ``line`` among ``tags`` that the filter admits, or None."""
    candidates = [(tag, parts) for tag, parts in _releases(tags, tag_filter) if line.holds(parts)]
    if line.precision is None and line.scheme is TagScheme.SEMVER and candidates:
        # Under a bare major, ``v2.64`` floats over ``v2.64.x``: only the most precise count.
        widest = max(parts.precision for _, parts in candidates)
        candidates = [(tag, parts) for tag, parts in candidates if parts.precision == widest]
    best: tuple[str, TagParts] | None = None
    for tag, parts in candidates:
        if best is None or compare_parts(parts, best[1]) > 0:
            best = (tag, parts)
    return best[0] if best else None


def main_line(tags: Iterable[str], tag_filter: TagFilter = NO_FILTER) -> TagLine | None:
    """The line most of a repository's releases follow (no variant): what ``latest`` tracks.

    Used for apps on a named channel (``latest``, ``main``), whose tag says nothing of a line.
    Ties go to the date-build schemes, then semver, then the shorter prefix.
    """
    counts: Counter[TagLine] = Counter()
    for _tag, parts in _releases(tags, tag_filter):
        if not parts.variant:
            counts[line_of_parts(parts)] += 1
    if not counts:
        return None
    preference = {TagScheme.DATE_RUN: 0, TagScheme.VERSION_TIMESTAMP: 1, TagScheme.SEMVER: 2}
    return max(
        counts,
        key=lambda line: (
            counts[line],
            -preference.get(line.scheme, 3),
            -len(line.prefix),
            line.precision or 0,
        ),
    )


def newest_for(
    running_tag: str | None, tags: Iterable[str], tag_filter: TagFilter = NO_FILTER
) -> str | None:
    """The newest tag for an app running ``running_tag``: its own line's, or for a named
    channel (``latest``, ``main``) the main line's. None for a tag of no known scheme."""
    tags = list(tags)
    line = line_of(running_tag)
    if line is None and is_floating_tag(running_tag):
        line = main_line(tags, tag_filter)
    if line is None:
        return None
    return newest_in_line(tags, line, tag_filter)


def is_newer(candidate: str, running: str) -> bool:
    """True when ``candidate`` is a later release than ``running`` on the same line."""
    candidate_parts, running_parts = tag_parts(candidate), tag_parts(running)
    if candidate_parts is None or running_parts is None:
        return False
    running_line = line_of(running)
    if running_line is None or running_parts.scheme is TagScheme.FLOATING:
        return False
    if not running_line.holds(candidate_parts):
        return False
    return compare_parts(candidate_parts, running_parts) > 0
