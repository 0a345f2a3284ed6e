"""Deploy plans are decided before any request: groups, skips and the image check."""

from __future__ import annotations

from typing import Any

import pytest

from gc_tui.core.model import AppInfo, AppVersion, Instance, InstanceAudit, InstanceStatus
from gc_tui.core.plan import (
    DeployTarget,
    PlanError,
    PlanOptions,
    build_plan,
    rollback_targets,
    to_target_selection,
)
from gc_tui.core.targets import targets_from_mapping

SUPERSET_NEW = "communityfirst/superset-deployment:6.1.0_20260803-1652"
SUPERSET_OLD = "communityfirst/superset-deployment:6.0.0_20260303-0213"


def app(name: str, image: str, version: int = 3, **extra: Any) -> AppInfo:
    versions = tuple(
        AppVersion(v, image if v == version else f"{image.rsplit(':', 1)[0]}:old{v}", None)
        for v in range(version + 1)
    )
    return AppInfo(name, version, image, None, versions=versions, **extra)


def audit(name: str, *apps: AppInfo, read_only: bool = False) -> InstanceAudit:
    return InstanceAudit(
        Instance(name, f"https://captain.{name}.example.org", read_only=read_only),
        InstanceStatus.OK,
        apps=apps,
    )


def failed(name: str) -> InstanceAudit:
    return InstanceAudit(
        Instance(name, f"https://captain.{name}.example.org"),
        InstanceStatus.UNREACHABLE,
        "cannot connect",
    )


class TestServiceGroups:
    """Naming one member of Superset or Windmill brings its siblings on the same repository."""

    def test_members_on_the_same_repository_join_and_are_marked(self) -> None:
        fleet = [
            audit(
                "acme",
                app("superset", SUPERSET_OLD),
                app("superset-worker", SUPERSET_OLD),
                app("superset-init-and-beat", SUPERSET_OLD),
                app("explorer", "communityfirst/guardianconnector-explorer:20260728-1"),
            )
        ]
        plan = build_plan(fleet, [DeployTarget("acme", "superset", SUPERSET_NEW)])
        assert [(r.app, r.added_by_group) for r in plan.rows] == [
            ("superset", False),
            ("superset-worker", True),
            ("superset-init-and-beat", True),
        ]
        assert {r.group for r in plan.rows} == {"superset"}
        assert all(r.to_image == SUPERSET_NEW for r in plan.rows)

    def test_members_the_operator_marked_too_are_not_called_added(self) -> None:
        fleet = [audit("acme", app("superset", SUPERSET_OLD), app("superset-worker", SUPERSET_OLD))]
        plan = build_plan(
            fleet,
            [
                DeployTarget("acme", "superset", SUPERSET_NEW),
                DeployTarget("acme", "superset-worker", SUPERSET_NEW),
            ],
        )
        assert [(r.app, r.added_by_group) for r in plan.rows] == [
            ("superset", False),
            ("superset-worker", False),
        ]

    def test_a_server_built_member_is_shown_as_skipped_not_dropped(self) -> None:
        fleet = [
            audit(
                "acme",
                app("superset", SUPERSET_OLD),
                app("superset-worker", "img-captain-superset-worker:0", version=0),
                app("superset-init-and-beat", SUPERSET_OLD),
            )
        ]
        plan = build_plan(fleet, [DeployTarget("acme", "superset", SUPERSET_NEW)])
        assert [r.app for r in plan.rows] == ["superset", "superset-init-and-beat"]
        (skipped,) = plan.skipped
        assert skipped.app == "superset-worker" and skipped.added_by_group
        assert "server build" in skipped.reason

    def test_no_group_turns_expansion_off(self) -> None:
        fleet = [audit("acme", app("superset", SUPERSET_OLD), app("superset-worker", SUPERSET_OLD))]
        plan = build_plan(
            fleet, [DeployTarget("acme", "superset", SUPERSET_NEW)], PlanOptions(use_groups=False)
        )
        assert [r.app for r in plan.rows] == ["superset"]


class TestSkips:
    """Every row that will not change is listed with its reason."""

    @pytest.mark.parametrize(
        ("audit_", "app_name", "options", "reason"),
        [
            (audit("a", app("postgres", "postgres:16")), "postgres", PlanOptions(), "held"),
            (audit("a", app("redis", "img-captain-redis:0", 0)), "redis", PlanOptions(),
             "server build"),
            (audit("a", app("x", "repo/x:1")), "x", PlanOptions(read_only=True), "read-only"),
            (audit("a", app("x", "repo/x:1"), read_only=True), "x", PlanOptions(), "read-only"),
            (audit("a", app("x", "repo/x:2")), "x", PlanOptions(), "already on"),
            (failed("a"), "x", PlanOptions(), "failed the audit"),
            (audit("a", app("y", "repo/y:1")), "x", PlanOptions(), "no such app"),
        ],
    )
    def test_skip_reason(
        self, audit_: InstanceAudit, app_name: str, options: PlanOptions, reason: str
    ) -> None:
        image = "postgres:17" if app_name == "postgres" else f"repo/{app_name}:2"
        plan = build_plan([audit_], [DeployTarget("a", app_name, image)], options)
        assert plan.rows == ()
        (skipped,) = plan.skipped
        assert reason in skipped.reason

    def test_include_flags_let_held_and_manual_rows_through(self) -> None:
        fleet = [audit("a", app("postgres", "postgres:16"), app("redis", "img-captain-redis:0", 0))]
        plan = build_plan(
            fleet,
            [DeployTarget("a", "postgres", "postgres:17"),
             DeployTarget("a", "redis", "redis:7.2.4")],
            PlanOptions(include_manual=True, include_held=True),
        )
        assert [r.app for r in plan.rows] == ["postgres", "redis"]


class TestImageCheck:
    """A malformed image is refused before anything is planned or sent."""

    @pytest.mark.parametrize(
        "image", ["repo:20260219-85:q", "repo name:1", "Repo/Upper:1", "repo:", ""]
    )
    def test_refused(self, image: str) -> None:
        with pytest.raises(PlanError, match="not a valid image reference"):
            build_plan([audit("a", app("x", "repo/x:1"))], [DeployTarget("a", "x", image)])


class TestRollbackAndTargets:
    """Rollback goes one successful version back; to-targets plans deployable drift only."""

    def test_rollback_takes_the_previous_successful_image(self) -> None:
        explorer = AppInfo(
            "explorer",
            5,
            "repo/explorer:5",
            None,
            versions=(
                AppVersion(3, "repo/explorer:3", None),
                AppVersion(4, None, None),  # a failed deploy has no image
                AppVersion(5, "repo/explorer:5", None),
            ),
        )
        wanted, refused = rollback_targets([audit("a", explorer)], ["explorer"], None)
        assert wanted == [DeployTarget("a", "explorer", "repo/explorer:3")] and refused == []

    def test_rollback_refuses_a_server_build(self) -> None:
        redis = AppInfo(
            "redis",
            1,
            "redis:7.2.4",
            None,
            versions=(AppVersion(0, "img-captain-redis:0", None),
                      AppVersion(1, "redis:7.2.4", None)),
        )
        wanted, refused = rollback_targets([audit("a", redis)], ["redis"], None)
        assert wanted == [] and "server build" in refused[0].reason

    def test_to_targets_selects_stale_and_floating_apps(self) -> None:
        targets = targets_from_mapping(
            {
                "explorer": "communityfirst/guardianconnector-explorer:20260731-948",
                "landing": "communityfirst/guardianconnector-landing-page:20260728-165",
                "windmill": "ghcr.io/windmill-labs/windmill:1.775.2",
            }
        )
        fleet = [
            audit(
                "a",
                app("explorer", "communityfirst/guardianconnector-explorer:20260601-800"),
                app("landing", "communityfirst/guardianconnector-landing-page:latest"),
                app("windmill", "ghcr.io/windmill-labs/windmill:1.775.2"),
                app("wildlife", "registry.example.org/cmi/wildlife:latest"),
            )
        ]
        selection = to_target_selection(fleet, targets)
        assert [(t.app, t.image) for t in selection] == [
            ("explorer", targets.images["explorer"]),
            ("landing", targets.images["landing"]),
        ]


class TestRunOptions:
    """A targets file's holds and groups apply to the plan, in the CLI and the TUI alike."""

    def test_targets_file_holds_and_groups_win(self) -> None:
        from gc_tui.core.plan import plan_options
        from gc_tui.core.targets import Targets

        targets = Targets(
            images={"web": "repo/web:2"},
            groups={"site": ("web", "web-cron")},
            hold_repositories=("redis",),
        )
        fleet = [
            audit(
                "a",
                app("web", "repo/web:1"),
                app("web-cron", "repo/web:1"),
                app("redis", "redis:7"),
                app("postgres", "postgres:16"),
            )
        ]
        wanted = [
            DeployTarget("a", "web", "repo/web:2"),
            DeployTarget("a", "redis", "redis:8"),
            DeployTarget("a", "postgres", "postgres:17"),
        ]
        plan = build_plan(fleet, wanted, plan_options(targets, ("postgres",)))
        assert [(r.app, r.added_by_group) for r in plan.rows] == [
            ("web", False),
            ("web-cron", True),
            ("postgres", False),  # the targets file holds redis only
        ]
        assert [s.app for s in plan.skipped] == ["redis"]
        without = build_plan(fleet, wanted, plan_options(None, ("postgres",)))
        assert [r.app for r in without.rows] == ["web", "redis"]


def test_rows_whose_app_changed_since_the_plan_are_named() -> None:
    # Review (helper): a dialog left open across a run's end held a plan from the old audit.
    from gc_tui.core.plan import changed_since

    before = [audit(name, app("superset", SUPERSET_OLD)) for name in ("acme", "bravo")]
    wanted = [DeployTarget(name, "superset", SUPERSET_NEW) for name in ("acme", "bravo")]
    plan = build_plan(before, wanted, PlanOptions(use_groups=False))
    assert changed_since(plan, {a.instance.name: a for a in before}) == []
    now = {"acme": audit("acme", app("superset", SUPERSET_NEW, 4)), "bravo": before[1]}
    assert changed_since(plan, now) == ["acme/superset"]
    rebuilt = {"acme": audit("acme", app("superset", SUPERSET_OLD, 5)), "bravo": before[1]}
    assert changed_since(plan, rebuilt) == ["acme/superset"]  # same image, another version
    assert changed_since(plan, {"acme": failed("acme"), "bravo": before[1]}) == []
