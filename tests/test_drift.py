"""drift_of gives every app exactly one state, and the demo fleet reads as its scenarios say."""

from __future__ import annotations

from typing import Any

import pytest

from gc_tui.core.drift import (
    DEPLOYABLE_STATES,
    DriftState,
    InstanceDrift,
    caprover_behind,
    compare_versions,
    drift_of,
    instance_drift,
    newest_version,
)
from gc_tui.core.model import AppInfo, Instance, InstanceAudit, InstanceStatus, VersionInfo
from gc_tui.core.targets import Targets, targets_from_mapping
from tests.demo_data import SCENARIO_DIFFERING, demo_fleet_data

EXPLORER = "communityfirst/guardianconnector-explorer:20260731-948"
DIGEST = "sha256:" + "ab" * 32

TARGETS = targets_from_mapping(
    {
        "explorer": EXPLORER,
        "superset": "communityfirst/superset-deployment:6.1.0_20260803-1652",
        "superset-worker": "communityfirst/superset-deployment:6.1.0_20260803-1652",
        "windmill": "ghcr.io/windmill-labs/windmill:1.775.2",
        "comapeo": "communityfirst/gc-comapeo-cloud:0.4.0",
        "files": "filebrowser/filebrowser:v2.36.1-s6",
        "db": "postgres:17",
        "pinned": f"communityfirst/gc-comapeo-cloud:0.4.0@{DIGEST}",
        "float": "filebrowser/filebrowser:v2",
    }
)


class TestEachState:
    """Each deployed image lands in the state the operator expects, with a readable detail."""

    @pytest.mark.parametrize(
        ("app_name", "image", "state", "detail"),
        [
            ("explorer", EXPLORER, DriftState.CURRENT, "20260731-948"),
            ("explorer", "docker.io/" + EXPLORER, DriftState.CURRENT, "on target"),
            ("pinned", f"communityfirst/gc-comapeo-cloud:0.4.0@{DIGEST}", DriftState.CURRENT, ""),
            (
                "explorer",
                "communityfirst/guardianconnector-explorer:20260728-165",
                DriftState.STALE,
                "20260728-165 -> 20260731-948",
            ),
            (
                "superset",
                "communityfirst/superset-deployment:6.0.0_20260303-0213",
                DriftState.STALE,
                "6.0.0_20260303-0213 -> 6.1.0_20260803-1652",
            ),
            (
                "windmill",
                "ghcr.io/windmill-labs/windmill:1.756.0",
                DriftState.STALE,
                "1.756.0 -> 1.775.2",
            ),
            (
                "comapeo",
                "communityfirst/gc-comapeo-cloud:0.3.0",
                DriftState.STALE,
                "0.3.0 -> 0.4.0",
            ),
            (
                "windmill",
                "ghcr.io/windmill-labs/windmill:1.800.0",
                DriftState.AHEAD,
                "1.800.0 -> 1.775.2",
            ),
            (
                "explorer",
                "communityfirst/guardianconnector-explorer:20260901-1000",
                DriftState.AHEAD,
                "20260901-1000 -> 20260731-948",
            ),
            (
                "comapeo",
                "communityfirst/comapeo-cloud:0.2.1",
                DriftState.OTHER_REPO,
                "communityfirst/comapeo-cloud -> communityfirst/gc-comapeo-cloud",
            ),
            (
                "superset",
                "registry.example.org/cmi/superset-docker:4.1.2_20250519-1315",
                DriftState.OTHER_REPO,
                "registry.example.org/cmi/superset-docker",
            ),
            (
                "windmill",
                "windmill-labs/windmill:1.775.2",
                DriftState.OTHER_REPO,
                "windmill-labs/windmill",
            ),
            (
                "explorer",
                "communityfirst/guardianconnector-explorer:latest",
                DriftState.FLOATING,
                "latest",
            ),
            (
                "explorer",
                "communityfirst/guardianconnector-explorer",
                DriftState.FLOATING,
                "latest",
            ),
            (
                "explorer",
                "communityfirst/guardianconnector-explorer:main",
                DriftState.FLOATING,
                "main",
            ),
            ("files", "filebrowser/filebrowser:v2", DriftState.FLOATING, "v2"),
            (
                "superset-worker",
                "img-captain-superset-worker:0",
                DriftState.MANUAL,
                "built on the server",
            ),
            ("redis", "img-captain-redis:0", DriftState.MANUAL, "built on the server"),
            ("postgres", "postgres:17-alpine", DriftState.HELD, "held"),
            (
                "wildlife",
                "registry.example.org/cmi/gc-wildlife-viewer:latest",
                DriftState.UNMANAGED,
                "no target",
            ),
            ("explorer", None, DriftState.UNKNOWN, "no deployed image"),
            ("explorer", "bad:tag:twice", DriftState.UNKNOWN, "not a valid reference"),
            (
                "files",
                "filebrowser/filebrowser:v2.36.1",
                DriftState.INCOMPARABLE,
                "v2.36.1 and v2.36.1-s6",
            ),
            (
                "float",
                "filebrowser/filebrowser:v2.36.1-s6",
                DriftState.INCOMPARABLE,
                "cannot be ordered",
            ),
            (
                "explorer",
                "communityfirst/guardianconnector-explorer:pr-12",
                DriftState.INCOMPARABLE,
                "pr-12",
            ),
            (
                "comapeo",
                "communityfirst/gc-comapeo-cloud:v0.4.0",
                DriftState.INCOMPARABLE,
                "cannot be ordered",
            ),
            ("pinned", "communityfirst/gc-comapeo-cloud:0.4.0", DriftState.INCOMPARABLE, "digest"),
        ],
    )
    def test_state(self, app_name: str, image: str | None, state: DriftState, detail: str) -> None:
        drift = drift_of(app_name, image, TARGETS)
        assert drift.state is state
        assert detail in drift.detail
        assert drift.target == TARGETS.images.get(app_name)


class TestPrecedence:
    """Server builds are manual and held repositories held, whatever their target says."""

    def test_server_build_with_a_target_is_manual(self) -> None:
        assert drift_of("explorer", "img-captain-explorer:3", TARGETS).state is DriftState.MANUAL

    @pytest.mark.parametrize("image", ["postgres:16", "postgres:17"])
    def test_held_repository_with_a_target_is_held(self, image: str) -> None:
        assert drift_of("db", image, TARGETS).state is DriftState.HELD

    def test_nothing_is_held_when_the_hold_list_is_empty(self) -> None:
        targets = Targets(images={"db": "postgres:17"}, hold_repositories=())
        assert drift_of("db", "postgres:16", targets).state is DriftState.FLOATING

    def test_floating_beats_other_repository(self) -> None:
        drift = drift_of("explorer", "registry.example.org/cmi/explorer:latest", TARGETS)
        assert drift.state is DriftState.FLOATING


class TestDeployable:
    """deploy --to-targets plans stale, other-repo and floating apps, and nothing else."""

    def test_the_set(self) -> None:
        assert DEPLOYABLE_STATES == {DriftState.STALE, DriftState.OTHER_REPO, DriftState.FLOATING}

    @pytest.mark.parametrize(
        ("image", "deployable"),
        [
            ("communityfirst/guardianconnector-explorer:20260728-165", True),
            ("communityfirst/guardianconnector-explorer:latest", True),
            ("communityfirst/guardianconnector-views:20260728-165", True),
            ("communityfirst/guardianconnector-explorer:20260901-1000", False),  # ahead
            ("communityfirst/guardianconnector-explorer:pr-3", False),  # incomparable
            ("img-captain-explorer:1", False),
            (EXPLORER, False),
        ],
    )
    def test_deployable(self, image: str, deployable: bool) -> None:
        assert drift_of("explorer", image, TARGETS).deployable is deployable


class TestCaproverVersions:
    """Old CapRover servers are flagged against latestVersion and against the fleet's newest."""

    @pytest.mark.parametrize(
        ("older", "newer"),
        [("1.13.1", "1.15.3"), ("1.9.0", "1.10.0"), ("1.15", "1.15.1"), ("v1.14.2", "1.15.0")],
    )
    def test_order(self, older: str, newer: str) -> None:
        assert (compare_versions(older, newer) or 0) < 0
        assert (compare_versions(newer, older) or 0) > 0

    def test_equal_and_unparseable(self) -> None:
        assert compare_versions("1.15.0", "1.15") == 0
        assert compare_versions("1.15.3", "edge") is None

    def test_newest(self) -> None:
        assert newest_version(["1.13.1", "1.15.3", "garbage", "1.9.9"]) == "1.15.3"
        assert newest_version([]) is None

    @pytest.mark.parametrize(
        ("current", "latest", "can_update", "fleet", "fragments"),
        [
            (
                "1.13.1",
                "1.15.3",
                True,
                "1.15.3",
                ["1.13.1", "latest release is 1.15.3", "fleet runs up to 1.15.3"],
            ),
            # can_update False and latest == current: the server could not check; the fleet knows.
            ("1.13.1", "1.13.1", False, "1.15.3", ["fleet runs up to 1.15.3"]),
            ("1.15.3", "1.15.3", True, "1.15.3", ["reports an update"]),
        ],
    )
    def test_behind(
        self, current: str, latest: str, can_update: bool, fleet: str, fragments: list[str]
    ) -> None:
        reason = caprover_behind(VersionInfo(current, latest, can_update), fleet)
        assert reason is not None
        for fragment in fragments:
            assert fragment in reason

    @pytest.mark.parametrize("fleet", ["1.15.3", None])
    def test_up_to_date(self, fleet: str | None) -> None:
        assert caprover_behind(VersionInfo("1.15.3", "1.15.3", False), fleet) is None
        assert caprover_behind(None, fleet) is None


def audit(
    name: str, apps: list[tuple[str, str | None]], status: InstanceStatus = InstanceStatus.OK
) -> InstanceAudit:
    return InstanceAudit(
        instance=Instance(name=name, url=f"https://captain.{name}.example.org"),
        status=status,
        version=VersionInfo("1.15.3", "1.15.3", False),
        apps=tuple(
            AppInfo(name=app, deployed_version=1, image=image, deployed_at=None)
            for app, image in apps
        ),
    )


class TestInstanceDrift:
    """An unreachable instance reports nothing as known; a reachable one lists missing target
    apps."""

    def test_unreachable_knows_nothing(self) -> None:
        result = instance_drift(
            audit("fernridge", [], InstanceStatus.UNREACHABLE), TARGETS, fleet_newest_caprover=None
        )
        assert not result.known
        assert result.apps == result.missing_apps == ()
        assert result.split_groups == ()

    def test_missing_rows_carry_the_target(self) -> None:
        result = instance_drift(
            audit("x", [("explorer", EXPLORER)]), TARGETS, fleet_newest_caprover=None
        )
        assert "explorer" not in result.missing
        assert "comapeo" in result.missing
        comapeo = next(row for row in result.rows if row.app == "comapeo")
        assert comapeo.drift.state is DriftState.MISSING
        assert comapeo.drift.target == TARGETS.images["comapeo"]


# --- the demo fleet against docs/guardian-connector.md#scenarios ---------------------------------


def load_fleet() -> dict[str, Any]:
    return demo_fleet_data()


def fleet_drift(name: str) -> InstanceDrift:
    fleet = load_fleet()
    instance = next(i for i in fleet["instances"] if i["name"] == name)
    apps = tuple(
        AppInfo(
            name=app["appName"],
            deployed_version=app["versions_count"] - 1,
            image=app["image"],
            deployed_at=None,
        )
        for app in instance["apps"]
    )
    version = instance["caprover_version"]
    the_audit = InstanceAudit(
        instance=Instance(name=name, url=instance["url"]),
        status=InstanceStatus.OK,
        version=VersionInfo(version, version, False),  # as if the server could not check
        apps=apps,
    )
    targets = targets_from_mapping(
        fleet["target_images"], hold_repositories=fleet["never_auto_upgrade"]
    )
    newest = newest_version(i["caprover_version"] for i in fleet["instances"])
    return instance_drift(the_audit, targets, fleet_newest_caprover=newest)


def names_in(result: InstanceDrift, state: DriftState) -> set[str]:
    return {row.app for row in result.in_state(state)}


class TestDemoFleetScenarios:
    """The states reproduce docs/guardian-connector.md#scenarios, instance by instance."""

    @pytest.mark.parametrize(("name", "count"), sorted(SCENARIO_DIFFERING.items()))
    def test_differing_count(self, name: str, count: int) -> None:
        assert len(fleet_drift(name).differing) == count

    @pytest.mark.parametrize("name", ["staging", "alderbrook"])
    def test_current_instances_have_nothing_to_do(self, name: str) -> None:
        result = fleet_drift(name)
        assert not any(row.drift.deployable for row in result.rows)
        assert result.missing == () and result.split_groups == () and result.caprover_behind is None

    def test_bluecanyon_is_one_release_behind_everywhere_but_comapeo(self) -> None:
        result = fleet_drift("bluecanyon")
        assert names_in(result, DriftState.STALE) == {
            "explorer", "gc-landing-page",
            "superset", "superset-worker", "superset-init-and-beat",
            "windmill", "windmill-worker", "windmill-worker-native",
        }  # fmt: skip

    def test_cedarmesa_has_two_server_builds_and_a_stale_superset(self) -> None:
        result = fleet_drift("cedarmesa")
        assert names_in(result, DriftState.MANUAL) == {"superset-worker", "superset-init-and-beat"}
        assert names_in(result, DriftState.STALE) == {"superset"}
        assert result.split_groups == ()  # server builds cannot show a split

    def test_driftwood_is_stale_on_every_managed_service(self) -> None:
        result = fleet_drift("driftwood")
        assert len(result.in_state(DriftState.STALE)) == 9

    def test_emberfalls_old_caprover_legacy_repository_and_server_builds(self) -> None:
        result = fleet_drift("emberfalls")
        assert names_in(result, DriftState.MANUAL) == {
            "redis",
            "superset-worker",
            "superset-init-and-beat",
        }
        assert names_in(result, DriftState.OTHER_REPO) == {"comapeo"}
        assert names_in(result, DriftState.HELD) == {"postgres"}
        assert result.caprover_behind is not None and "1.13.1" in result.caprover_behind

    def test_heronmarsh_half_finished_upgrade_splits_both_groups(self) -> None:
        result = fleet_drift("heronmarsh")
        assert [split.name for split in result.split_groups] == ["windmill", "superset"]
        assert names_in(result, DriftState.STALE) == {
            "windmill-worker",
            "windmill-worker-native",
            "superset-worker",
        }

    def test_ironwood_oldest_stack(self) -> None:
        result = fleet_drift("ironwood")
        assert set(result.missing) == {"gc-landing-page", "comapeo"}
        assert names_in(result, DriftState.FLOATING) == {"explorer"}
        assert names_in(result, DriftState.OTHER_REPO) == {"superset"}
        assert names_in(result, DriftState.MANUAL) == {"superset-worker", "superset-init-and-beat"}
        assert names_in(result, DriftState.STALE) == {
            "windmill",
            "windmill-worker",
            "windmill-worker-native",
        }

    def test_junipercreek_custom_apps_are_unmanaged(self) -> None:
        fleet = load_fleet()
        result = fleet_drift("junipercreek")
        # redis, files and windmill-lsp have no target either; the table counts the custom apps.
        custom = names_in(result, DriftState.UNMANAGED) - set(fleet["manual_only"])
        assert custom == {"wildlife", "story-map"}
        assert names_in(result, DriftState.HELD) == {"postgres"}  # postgres:17-alpine

    def test_kestrelbay_landing_page_and_comapeo(self) -> None:
        result = fleet_drift("kestrelbay")
        assert {row.drift.detail for row in result.differing} == {
            "20260727-163 -> 20260728-165",
            "0.3.0 -> 0.4.0",
        }

    @pytest.mark.parametrize("name", sorted(SCENARIO_DIFFERING))
    def test_no_app_is_left_incomparable_or_unknown(self, name: str) -> None:
        result = fleet_drift(name)
        assert not result.in_state(DriftState.INCOMPARABLE)
        assert not result.in_state(DriftState.UNKNOWN)
