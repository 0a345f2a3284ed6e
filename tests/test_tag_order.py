"""Choosing the newest tag: the running tag's own line, numbers as numbers, no pre-releases.

The tag lists are the real tags of the Guardian Connector stack and the traps named in
docs/registries.md: lexical order (``-999`` after ``-1002``), pre-releases, floating tags
beside pinned ones (``v2`` next to ``v2.30.0``), variants (``-s6``, ``-alpine``).
"""

from __future__ import annotations

import random

import pytest

from gc_tui.core.images import TagScheme, tag_parts
from gc_tui.core.tag_order import (
    TagFilter,
    TagFilterError,
    TagLine,
    is_newer,
    line_of,
    main_line,
    newest_for,
)

EXPLORER = [  # date-run, plus what the CI also pushes: latest, main, pr-N, ci-test
    "20260216-603",
    "20260402-741",
    "20260603-823",
    "20260716-878",
    "20260727-932",
    "20260731-948",
    "20260815-999",
    "20260815-1002",
    "latest",
    "main",
    "pr-301",
    "ci-test",
]
SUPERSET = [  # version+timestamp, plus latest and PR builds
    "4.1.4_20251002-0232",
    "6.0.0_20260303-0213",
    "6.1.0_20260713-2211",
    "6.1.0_20260729-2019",
    "6.1.0_20260803-1652",
    "6.1.0_20260818-0907",
    "pr-212-6.1.0_20260815-1130",
    "latest",
]
WINDMILL = [  # semver, with release candidates and named channels
    "1.435.2",
    "1.648.0",
    "1.715.0",
    "1.756.0",
    "1.775.2",
    "1.780.1",
    "1.99.0",
    "1.781.0-rc.1",
    "1.782.0-beta",
    "main",
    "latest",
]
FILEBROWSER = [  # a floating major beside pinned releases, and the s6 variant
    "v2",
    "v2.30.0",
    "v2.36.1",
    "v2.36.1-s6",
    "v2.63.23",
    "v2.63.23-s6",
    "v2.64.1",
    "v2.64.1-s6",
    "v2.65.0-beta.1",
    "v2.65.0-rc1-s6",
    "v2.64",
    "latest",
    "s6",
]
POSTGRES = [  # bare majors, major.minor releases, variants, and pre-release majors
    "16",
    "16.9",
    "16.10",
    "17",
    "17.5",
    "17.6",
    "17-alpine",
    "17.6-alpine",
    "17.6-bookworm",
    "18",
    "18.0",
    "18rc1",
    "18beta3",
    "19-beta1",
    "latest",
    "alpine",
]
COMAPEO = ["0.2.1", "0.3.0", "0.4.0", "0.5.0-rc.1", "latest"]


class TestNewestOfTheRunningLine:
    """The newest tag is the highest of the running tag's line, whatever the listing order."""

    @pytest.mark.parametrize(
        ("running", "tags", "newest"),
        [
            ("20260731-948", EXPLORER, "20260815-1002"),  # -1002 > -999 > -948 as numbers
            ("20260216-603", EXPLORER, "20260815-1002"),
            ("6.1.0_20260803-1652", SUPERSET, "6.1.0_20260818-0907"),
            ("4.1.4_20251002-0232", SUPERSET, "6.1.0_20260818-0907"),
            ("1.775.2", WINDMILL, "1.780.1"),  # not 1.99.0, not the -rc.1 or -beta
            ("1.435.2", WINDMILL, "1.780.1"),
            ("v2.36.1-s6", FILEBROWSER, "v2.64.1-s6"),  # the variant is kept
            ("v2.30.0", FILEBROWSER, "v2.64.1"),  # v2 and v2.64 float: never newest
            ("0.3.0", COMAPEO, "0.4.0"),
            ("0.4.0", COMAPEO, "0.4.0"),
            ("17.5", POSTGRES, "18.0"),  # two-part line: not 17.6-alpine, not 18rc1
            ("16.9", POSTGRES, "18.0"),
        ],
    )
    def test_newest(self, running: str, tags: list[str], newest: str) -> None:
        assert newest_for(running, tags) == newest

    @pytest.mark.parametrize("seed", range(5))
    def test_the_listing_order_does_not_matter(self, seed: int) -> None:
        shuffled = list(EXPLORER)
        random.Random(seed).shuffle(shuffled)
        assert newest_for("20260731-948", shuffled) == "20260815-1002"
        assert newest_for("20260731-948", sorted(EXPLORER)) == "20260815-1002"

    def test_a_repository_of_pre_releases_only_has_no_newest(self) -> None:
        assert newest_for("1.0.0", ["1.1.0-rc1", "1.2.0-beta.2", "latest"]) is None

    def test_no_tag_of_the_running_scheme(self) -> None:
        assert newest_for("20260731-948", WINDMILL) is None
        assert newest_for("1.775.2", EXPLORER) is None

    @pytest.mark.parametrize("running", ["pr-301", "ci-test", "sha256-abc.sig"])
    def test_a_tag_of_no_scheme_has_no_newest(self, running: str) -> None:
        assert newest_for(running, EXPLORER) is None


class TestFloatingTags:
    """A floating tag's newest is the pinned release it stands for, never another float."""

    @pytest.mark.parametrize(
        ("running", "tags", "newest"),
        [
            ("v2", FILEBROWSER, "v2.64.1"),  # v2.64 floats over v2.64.x
            ("16", POSTGRES, "16.10"),
            ("17", POSTGRES, "17.6"),
            ("17-alpine", POSTGRES, "17.6-alpine"),
            ("latest", EXPLORER, "20260815-1002"),  # the line most releases follow
            ("main", SUPERSET, "6.1.0_20260818-0907"),
            ("latest", WINDMILL, "1.780.1"),
        ],
    )
    def test_newest(self, running: str, tags: list[str], newest: str) -> None:
        assert newest_for(running, tags) == newest

    def test_a_repository_of_mostly_floating_tags(self) -> None:
        assert newest_for("latest", ["1", "2", "3", "v4", "1.0.0", "latest"]) == "1.0.0"

    @pytest.mark.parametrize("tag", ["v2", "17", "17-alpine", "latest", "main", "v2.64"])
    def test_never_newest_in_a_pinned_line(self, tag: str) -> None:
        everything = FILEBROWSER + POSTGRES + EXPLORER
        for running in ("v2.30.0", "17.5", "20260731-948"):
            assert newest_for(running, everything) != tag


class TestIncludeExclude:
    """The targets file's regexes narrow the candidates; they are searched, so anchor them."""

    def test_include_keeps_one_major(self) -> None:
        stay = TagFilter(include=r"^17(\.\d+)?$")
        assert newest_for("17.5", POSTGRES, stay) == "17.6"
        assert newest_for("17", POSTGRES, stay) == "17.6"

    def test_exclude_drops_a_bad_release(self) -> None:
        assert newest_for("1.775.2", WINDMILL, TagFilter(exclude=r"^1\.780\.")) == "1.775.2"

    def test_both(self) -> None:
        only_7_2 = TagFilter(include=r"^7\.2\.", exclude=r"^7\.2\.10$")
        assert newest_for("7.2.4", ["7.2.4", "7.2.9", "7.2.10", "8.0.3"], only_7_2) == "7.2.9"

    def test_an_invalid_pattern_is_refused(self) -> None:
        with pytest.raises(TagFilterError, match="include"):
            TagFilter(include="^17(")


class TestNewer:
    """is_newer answers only within one line; a pre-release is older than its release."""

    @pytest.mark.parametrize(
        ("candidate", "running"),
        [
            ("20260815-1002", "20260815-999"),
            ("20260815-1002", "20260731-948"),
            ("6.1.0_20260818-0907", "6.1.0_20260803-1652"),
            ("1.780.1", "1.775.2"),
            ("1.100.0", "1.99.0"),
            ("v2.64.1-s6", "v2.36.1-s6"),
            ("1.0.0", "1.0.0-rc1"),
            ("16.10", "16.9"),
        ],
    )
    def test_newer(self, candidate: str, running: str) -> None:
        assert is_newer(candidate, running)
        assert not is_newer(running, candidate)

    @pytest.mark.parametrize(
        ("candidate", "running"),
        [
            ("v2.64.1", "v2.36.1-s6"),  # another variant
            ("17.6.1", "17.5"),  # another precision
            ("20260815-1002", "1.775.2"),  # another scheme
            ("v2.64.1", "2.36.1"),  # another prefix
            ("v2.64.1", "v2"),  # a floating running tag is never behind
            ("1.0.0", "1.0.0"),
        ],
    )
    def test_not_newer(self, candidate: str, running: str) -> None:
        assert not is_newer(candidate, running)


class TestLines:
    """A tag's line: scheme, prefix, variant, precision, and the major under a bare major."""

    @pytest.mark.parametrize(
        ("tag", "line"),
        [
            ("20260731-948", TagLine(TagScheme.DATE_RUN)),
            ("6.1.0_20260803-1652", TagLine(TagScheme.VERSION_TIMESTAMP)),
            ("1.775.2", TagLine(TagScheme.SEMVER, precision=3)),
            ("v2.36.1-s6", TagLine(TagScheme.SEMVER, "v", "s6", 3)),
            ("1.0.0-rc1-alpine", TagLine(TagScheme.SEMVER, "", "alpine", 3)),
            ("v2", TagLine(TagScheme.SEMVER, "v", major=2)),
            ("17-alpine", TagLine(TagScheme.SEMVER, "", "alpine", major=17)),
        ],
    )
    def test_line(self, tag: str, line: TagLine) -> None:
        assert line_of(tag) == line

    @pytest.mark.parametrize("tag", ["latest", "main", "pr-12", None])
    def test_no_line(self, tag: str | None) -> None:
        assert line_of(tag) is None

    @pytest.mark.parametrize(
        ("tag", "prerelease", "variant"),
        [
            ("1.781.0-rc.1", "rc.1", ""),
            ("1.782.0-beta", "beta", ""),
            ("v2.65.0-rc1-s6", "rc1", "s6"),
            ("v2.36.1-s6", "", "s6"),
            ("17.6-bookworm", "", "bookworm"),
        ],
    )
    def test_pre_release_or_variant(self, tag: str, prerelease: str, variant: str) -> None:
        parts = tag_parts(tag)
        assert parts is not None
        assert (parts.prerelease, parts.variant) == (prerelease, variant)

    def test_main_line_of_an_empty_repository(self) -> None:
        assert main_line(["latest", "main"]) is None
