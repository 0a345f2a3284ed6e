"""Image references are parsed by Docker's grammar, refused with a reason, and their tags
ordered."""

from __future__ import annotations

import itertools
import json

import pytest

from gc_tui.core.images import (
    InvalidImage,
    TagScheme,
    compare_tags,
    is_floating_tag,
    is_server_build,
    parse_image,
    same_image,
    same_repository,
    tag_scheme,
)
from tests.demo_data import PACKAGED

DIGEST = "sha256:" + "0123456789abcdef" * 4


def demo_fleet_images() -> list[str]:
    path = PACKAGED
    fleet = json.loads(path.read_text())
    images = {app["image"] for instance in fleet["instances"] for app in instance["apps"]}
    images.update(fleet["target_images"].values())
    return sorted(images)


class TestParseAcceptsDockerReferences:
    """A valid reference splits into registry, path, tag and digest exactly as written."""

    @pytest.mark.parametrize(
        ("reference", "registry", "path", "tag", "digest"),
        [
            ("postgres", None, "postgres", None, None),
            ("postgres:17-alpine", None, "postgres", "17-alpine", None),
            ("library/postgres:17", None, "library/postgres", "17", None),
            ("docker.io/library/postgres:16", "docker.io", "library/postgres", "16", None),
            (
                "communityfirst/guardianconnector-explorer:20260731-948",
                None,
                "communityfirst/guardianconnector-explorer",
                "20260731-948",
                None,
            ),
            (
                "ghcr.io/windmill-labs/windmill:1.775.2",
                "ghcr.io",
                "windmill-labs/windmill",
                "1.775.2",
                None,
            ),
            ("localhost:5000/team/app:v1", "localhost:5000", "team/app", "v1", None),
            ("localhost/app", "localhost", "app", None, None),
            ("[::1]:5000/app:1.0.0", "[::1]:5000", "app", "1.0.0", None),
            (f"postgres@{DIGEST}", None, "postgres", None, DIGEST),
            (f"redis:7.2.4@{DIGEST}", None, "redis", "7.2.4", DIGEST),
            ("img-captain-superset-worker:0", None, "img-captain-superset-worker", "0", None),
            ("team/a__b.c--d_e:_tag", None, "team/a__b.c--d_e", "_tag", None),
        ],
    )
    def test_fields(
        self, reference: str, registry: str | None, path: str, tag: str | None, digest: str | None
    ) -> None:
        image = parse_image(reference)
        assert (image.registry, image.path, image.tag, image.digest) == (
            registry,
            path,
            tag,
            digest,
        )

    @pytest.mark.parametrize(
        "reference",
        [
            "postgres",
            "ghcr.io/windmill-labs/windmill:1.775.2",
            f"redis:7.2.4@{DIGEST}",
            "a:" + "t" * 128,
        ],
    )
    def test_str_gives_back_the_reference(self, reference: str) -> None:
        assert str(parse_image(reference)) == reference

    @pytest.mark.parametrize("reference", demo_fleet_images() or ["postgres"])
    def test_every_image_in_the_demo_fleet_parses(self, reference: str) -> None:
        assert str(parse_image(reference)) == reference


class TestParseRefusesWithAReason:
    """A malformed reference raises InvalidImage whose message quotes it and says what is wrong."""

    @pytest.mark.parametrize(
        ("reference", "reason"),
        [
            ("communityfirst/guardianconnector-landing-page:20260219-85:q", "more than one ':'"),
            ("repo:20260219-85:q", "more than one ':'"),
            ("", "empty"),
            ("repo:", "tag after ':' is empty"),
            ("commu nityfirst/explorer", "space"),
            (" postgres", "leading or trailing whitespace"),
            ("postgres:17\n", "leading or trailing whitespace"),
            ("post\x00gres", "control character"),
            ("post\x1bgres", "control character"),
            ("Communityfirst/explorer:1.0.0", "must be lower-case"),
            ("ghcr.io/Windmill-Labs/windmill", "must be lower-case"),
            ("postgres:-17", "must start with a letter, digit or '_'"),
            ("postgres:" + "t" * 129, "at most 128"),
            ("/postgres", "empty path component"),
            ("team//app", "empty path component"),
            ("team/app/", "empty path component"),
            ("team/-app", "lower-case letters and digits"),
            ("https://ghcr.io/windmill-labs/windmill", "URL scheme"),
            ("localhost:port/app", "port 'port' is not a number"),
            ("bad_host.io:5000/app", "not a valid host name"),
            ("postgres@sha256:abc", "digest"),
            (f"postgres@{DIGEST}@{DIGEST}", "more than one '@'"),
            ("postgrés", "non-ASCII"),
            ("a/" + "b" * 255, "longer than 255"),
        ],
    )
    def test_refused(self, reference: str, reason: str) -> None:
        with pytest.raises(InvalidImage) as caught:
            parse_image(reference)
        message = str(caught.value)
        assert reason in message
        assert repr(reference) in message
        assert isinstance(caught.value, ValueError)


class TestRepositoryIdentity:
    """Docker Hub's short and long spellings name one repository; other registries do not."""

    @pytest.mark.parametrize(
        ("a", "b"),
        [
            ("postgres", "library/postgres:17"),
            ("postgres:16", "docker.io/library/postgres:17-alpine"),
            ("index.docker.io/library/postgres", "postgres"),
            (
                "communityfirst/gc-comapeo-cloud:0.3.0",
                "docker.io/communityfirst/gc-comapeo-cloud:0.4.0",
            ),
        ],
    )
    def test_same(self, a: str, b: str) -> None:
        assert same_repository(a, b)
        assert parse_image(a).repository == parse_image(b).repository

    @pytest.mark.parametrize(
        ("a", "b"),
        [
            ("communityfirst/comapeo-cloud:0.2.1", "communityfirst/gc-comapeo-cloud:0.4.0"),
            (
                "registry.example.org/cmi/superset-docker:4.1.2_20250519-1315",
                "communityfirst/superset-deployment:6.1.0_20260803-1652",
            ),
            ("ghcr.io/windmill-labs/windmill", "windmill-labs/windmill"),
            ("ghcr.io/windmill-labs/windmill", "ghcr.io/windmill-labs/windmill-lsp"),
            ("postgres", "not a ref:"),
        ],
    )
    def test_different(self, a: str, b: str) -> None:
        assert not same_repository(a, b)

    def test_long_form_is_what_repository_returns(self) -> None:
        assert parse_image("postgres:17").repository == "docker.io/library/postgres"
        assert parse_image("postgres:17").familiar_repository == "postgres"

    @pytest.mark.parametrize(
        ("a", "b", "same"),
        [
            ("postgres", "postgres:latest", True),
            ("docker.io/library/redis:7.2.4", "redis:7.2.4", True),
            ("redis:7.2.4", "redis:7.2.5", False),
            (f"redis:7.2.4@{DIGEST}", "redis:7.2.4", False),
            (f"redis@{DIGEST}", "redis:latest", False),
        ],
    )
    def test_same_image(self, a: str, b: str, same: bool) -> None:
        assert same_image(a, b) is same


class TestServerBuild:
    """Only CapRover's img-captain-<app>:<n> names are server builds, with or without a registry."""

    @pytest.mark.parametrize(
        ("image", "expected"),
        [
            ("img-captain-superset-worker:0", True),
            ("img-captain-redis:12", True),
            ("registry.example.org/cmi/img-captain-explorer:3", True),
            ("communityfirst/superset-deployment:6.1.0_20260803-1652", False),
            ("communityfirst/img-captainx:1", False),
            ("redis:7.2.4", False),
        ],
    )
    def test_classified(self, image: str, expected: bool) -> None:
        assert is_server_build(image) is expected


class TestFloatingTags:
    """Tags that move (named channels, no tag, a bare major) float; pinned versions do not."""

    @pytest.mark.parametrize(
        "tag", [None, "latest", "main", "master", "stable", "v2", "2", "17", "16", "17-alpine"]
    )
    def test_floating(self, tag: str | None) -> None:
        assert is_floating_tag(tag)
        assert tag_scheme(tag) is TagScheme.FLOATING

    @pytest.mark.parametrize(
        "tag",
        [
            "1.775.2",
            "v2.36.1-s6",
            "0.4.0",
            "20260731-948",
            "6.1.0_20260803-1652",
            "pr-12",
            "ci-test",
        ],
    )
    def test_pinned(self, tag: str) -> None:
        assert not is_floating_tag(tag)

    def test_a_digest_pins_a_missing_tag(self) -> None:
        assert parse_image("postgres").floating
        assert not parse_image(f"postgres@{DIGEST}").floating


class TestTagSchemes:
    """Each tag scheme the Guardian Connector images use is recognised by its shape."""

    @pytest.mark.parametrize(
        ("tag", "scheme"),
        [
            ("1.775.2", TagScheme.SEMVER),
            ("v2.36.1-s6", TagScheme.SEMVER),
            ("0.4.0", TagScheme.SEMVER),
            ("7.2.4", TagScheme.SEMVER),
            ("20260731-948", TagScheme.DATE_RUN),
            ("20260216-83", TagScheme.DATE_RUN),
            ("6.1.0_20260803-1652", TagScheme.VERSION_TIMESTAMP),
            ("4.1.2_20250519-1315", TagScheme.VERSION_TIMESTAMP),
            ("latest", TagScheme.FLOATING),
            ("pr-12", TagScheme.OTHER),
            ("ci-test", TagScheme.OTHER),
        ],
    )
    def test_scheme(self, tag: str, scheme: TagScheme) -> None:
        assert tag_scheme(tag) is scheme


ORDERED = [  # (older, newer)
    ("20260727-932", "20260731-948"),
    ("20260731-99", "20260731-100"),  # run number compared as a number, not as text
    ("20260730-999", "20260731-1"),  # the date comes first
    ("6.1.0_20260729-2019", "6.1.0_20260803-1652"),
    ("6.0.0_20260303-0213", "6.1.0_20260101-0000"),  # the version comes before the timestamp
    ("4.1.4_20251002-0232", "4.1.10_20251001-0000"),
    ("1.756.0", "1.775.2"),
    ("1.99.0", "1.100.0"),
    ("0.3.0", "0.4.0"),
    ("v2.36.1-s6", "v2.63.23-s6"),
    ("7.2", "7.2.4"),
]

UNORDERABLE = [
    ("17", "17-alpine"),  # both float
    ("latest", "20260731-948"),
    ("20260731-948", "1.775.2"),  # different schemes
    ("6.1.0_20260803-1652", "6.1.0"),
    ("1.2.0", "1.2.0-alpine"),  # a variant is another build
    ("v2.36.1-s6", "v2.36.1"),
    ("1.0.0-rc1", "1.0.0"),
    ("pr-12", "pr-13"),  # unknown scheme
    ("main", "latest"),
]


class TestCompareTags:
    """Tags of one scheme order by their meaning; anything else is None, never a guess."""

    @pytest.mark.parametrize(("older", "newer"), ORDERED)
    def test_older_before_newer(self, older: str, newer: str) -> None:
        assert (compare_tags(older, newer) or 0) < 0
        assert (compare_tags(newer, older) or 0) > 0

    @pytest.mark.parametrize(("a", "b"), UNORDERABLE)
    def test_not_comparable(self, a: str, b: str) -> None:
        assert compare_tags(a, b) is None
        assert compare_tags(b, a) is None

    @pytest.mark.parametrize("tag", ["20260731-948", "1.775.2", "latest", "pr-12", "17"])
    def test_a_tag_equals_itself(self, tag: str) -> None:
        assert compare_tags(tag, tag) == 0

    def test_every_pinned_tag_in_the_demo_fleet_orders_within_its_repository(self) -> None:
        images = [parse_image(image) for image in demo_fleet_images()]
        pinned = [i for i in images if not i.floating and not is_server_build(str(i))]
        assert pinned
        for a, b in itertools.combinations(pinned, 2):
            if a.repository != b.repository:
                continue
            assert a.tag is not None and b.tag is not None
            order = compare_tags(a.tag, b.tag)
            assert order is not None, (a, b)
            assert order == -(compare_tags(b.tag, a.tag) or 0)
            assert (order == 0) is (a.tag == b.tag)
