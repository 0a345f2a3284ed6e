"""Superset and Windmill apps travel as groups; a group split across images is flagged."""

from __future__ import annotations

from typing import ClassVar

import pytest

from gc_tui.core.groups import BUILTIN_GROUPS, base_name, group_members, split_groups
from gc_tui.core.model import AppInfo

SUPERSET = "communityfirst/superset-deployment:6.1.0_20260803-1652"
SUPERSET_OLD = "communityfirst/superset-deployment:6.1.0_20260729-2019"
WINDMILL = "ghcr.io/windmill-labs/windmill:1.775.2"
WINDMILL_OLD = "ghcr.io/windmill-labs/windmill:1.756.0"


def app(
    name: str, image: str | None = "x/y:1.0.0", *, tags: tuple[str, ...] = (), project_id: str = ""
) -> AppInfo:
    return AppInfo(
        name=name,
        deployed_version=1,
        image=image,
        deployed_at=None,
        tags=tags,
        project_id=project_id,
    )


def stack(prefix: str = "") -> list[AppInfo]:
    """A standard GC instance, optionally with the test stack's name prefix."""
    return [
        app(f"{prefix}postgres", "postgres:17"),
        app(f"{prefix}windmill", WINDMILL),
        app(f"{prefix}windmill-worker", WINDMILL),
        app(f"{prefix}windmill-worker-native", WINDMILL),
        app(f"{prefix}windmill-lsp", "ghcr.io/windmill-labs/windmill-lsp:1.518.2"),
        app(f"{prefix}superset", SUPERSET),
        app(f"{prefix}superset-worker", SUPERSET),
        app(f"{prefix}superset-init-and-beat", SUPERSET),
        app(f"{prefix}explorer", "communityfirst/guardianconnector-explorer:20260731-948"),
    ]


class TestConventionalMembers:
    """Naming any member finds all members present, whatever the base name."""

    @pytest.mark.parametrize("prefix", ["", "test-"])
    @pytest.mark.parametrize("group", ["superset", "windmill"])
    def test_each_member_finds_the_whole_group(self, prefix: str, group: str) -> None:
        expected = tuple(prefix + name for name in BUILTIN_GROUPS[group])
        for member in expected:
            assert group_members(member, stack(prefix)) == (prefix + group, expected)

    @pytest.mark.parametrize("name", ["explorer", "postgres", "windmill-lsp"])
    def test_apps_outside_groups_have_none(self, name: str) -> None:
        assert group_members(name, stack()) is None

    def test_an_app_not_on_the_instance_has_none(self) -> None:
        assert group_members("superset", [app("explorer")]) is None

    def test_a_member_alone_has_no_group(self) -> None:
        assert group_members("superset", [app("superset"), app("windmill-worker")]) is None

    def test_a_server_built_member_is_still_a_member(self) -> None:
        apps = [
            app("superset", SUPERSET),
            app("superset-worker", "img-captain-superset-worker:0"),
            app("superset-init-and-beat", "img-captain-superset-init-and-beat:0"),
        ]
        assert group_members("superset", apps) == (
            "superset",
            ("superset", "superset-worker", "superset-init-and-beat"),
        )

    def test_members_keep_instance_order(self) -> None:
        apps = [app("windmill-worker-native"), app("windmill"), app("windmill-worker")]
        assert group_members("windmill", apps) == (
            "windmill",
            ("windmill-worker-native", "windmill", "windmill-worker"),
        )

    @pytest.mark.parametrize(
        ("name", "base"),
        [
            ("superset-init-and-beat", "superset"),
            ("test-windmill-worker-native", "test-windmill"),
            ("windmill-worker", "windmill"),
            ("explorer", "explorer"),
            ("-worker", "-worker"),
        ],
    )
    def test_base_name(self, name: str, base: str) -> None:
        assert base_name(name) == base


class TestOneClickMarkersNarrow:
    """Apps from different one-click installs (other project or tag) are not one group."""

    def test_other_project_is_left_out(self) -> None:
        apps = [
            app("superset", project_id="p1"),
            app("superset-worker", project_id="p1"),
            app("superset-init-and-beat", project_id="p2"),
        ]
        assert group_members("superset", apps) == ("superset", ("superset", "superset-worker"))

    def test_disjoint_tags_are_left_out(self) -> None:
        apps = [
            app("windmill", tags=("windmill",)),
            app("windmill-worker", tags=("windmill",)),
            app("windmill-worker-native", tags=("other",)),
        ]
        assert group_members("windmill-worker", apps) == (
            "windmill",
            ("windmill", "windmill-worker"),
        )

    def test_an_unmarked_app_still_joins_by_name(self) -> None:
        apps = [app("superset", project_id="p1", tags=("superset",)), app("superset-worker")]
        assert group_members("superset-worker", apps) == (
            "superset",
            ("superset", "superset-worker"),
        )

    def test_a_shared_project_does_not_pull_in_other_services(self) -> None:
        # The upstream Windmill template puts its own Postgres in the same project and tag.
        apps = [
            app(name, tags=("windmill",), project_id="p1")
            for name in ("windmill", "windmill-worker", "windmill-postgres", "windmill-lsp")
        ]
        assert group_members("windmill", apps) == ("windmill", ("windmill", "windmill-worker"))


class TestExtraGroups:
    """A group from the targets file lists its members by name and wins over the convention."""

    EXTRA: ClassVar[dict[str, list[str]]] = {
        "reports": ["reports", "reports-cron"],
        "bi": ["superset", "superset-worker"],
    }

    def test_listed_members_are_found(self) -> None:
        apps = [app("reports"), app("reports-cron"), app("explorer")]
        assert group_members("reports-cron", apps, extra_groups=self.EXTRA) == (
            "reports",
            ("reports", "reports-cron"),
        )

    def test_explicit_group_overrides_the_convention(self) -> None:
        assert group_members("superset", stack(), extra_groups=self.EXTRA) == (
            "bi",
            ("superset", "superset-worker"),
        )

    def test_an_app_claimed_by_an_explicit_group_leaves_the_conventional_one(self) -> None:
        assert group_members("superset-init-and-beat", stack(), extra_groups=self.EXTRA) is None


class TestSplitGroups:
    """A group whose members run different registry images is reported with each image."""

    def test_consistent_groups_are_not_split(self) -> None:
        assert split_groups(stack()) == []

    def test_half_finished_upgrade_is_split(self) -> None:
        apps = stack()
        apps[2] = app("windmill-worker", WINDMILL_OLD)
        apps[6] = app("superset-worker", SUPERSET_OLD)
        splits = split_groups(apps)
        assert [split.name for split in splits] == ["windmill", "superset"]
        assert dict(splits[0].members) == {
            "windmill": WINDMILL,
            "windmill-worker": WINDMILL_OLD,
            "windmill-worker-native": WINDMILL,
        }
        assert "superset-worker on " + SUPERSET_OLD in splits[1].detail

    @pytest.mark.parametrize(
        "worker_image",
        ["img-captain-superset-worker:0", None, "docker.io/" + SUPERSET],
    )
    def test_members_that_cannot_disagree_do_not_split(self, worker_image: str | None) -> None:
        # A server build does not say what it was built from; a missing image says nothing;
        # the long Docker Hub spelling is the same image.
        apps = stack()
        apps[6] = app("superset-worker", worker_image)
        assert split_groups(apps) == []

    def test_repository_change_inside_a_group_is_split(self) -> None:
        apps = stack()
        apps[5] = app("superset", "registry.example.org/cmi/superset-docker:4.1.2_20250519-1315")
        assert [split.name for split in split_groups(apps)] == ["superset"]
