"""An app's upstream state, a repository's summary, and what they lead to: the --to-newest
selection and plan, and ``targets bump`` with its diff.

Lookups are built by hand here (what a registry would have said); the registry side is
tested in test_registry_*.py and test_upstream_lookup.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from gc_tui.core.model import AppInfo, Instance, InstanceAudit, InstanceStatus
from gc_tui.core.plan import PlanOptions, build_plan
from gc_tui.core.registry_errors import LookupProblem
from gc_tui.core.tag_order import TagFilter
from gc_tui.core.targets import load_targets, save_targets, targets_from_mapping
from gc_tui.core.upstream import (
    RepositoryLookup,
    TagDetails,
    UpstreamError,
    UpstreamState,
    app_upstream,
    repository_summary,
    running_tags_by_repository,
    wanted_tags,
)
from gc_tui.core.upstream_plan import (
    bump_targets,
    targets_diff,
    to_newest_selection,
    upstream_of_app,
    wanted_repositories,
)

DEPLOYED = "2026-08-20T14:30:00.000Z"
CHECKED = datetime(2026, 8, 25, 8, tzinfo=UTC)
DIGEST = "sha256:" + "e" * 64

EXPLORER = "docker.io/communityfirst/guardianconnector-explorer"
COMAPEO = "docker.io/communityfirst/gc-comapeo-cloud"
WINDMILL = "ghcr.io/windmill-labs/windmill"
POSTGRES = "docker.io/library/postgres"


def lookup(
    repository: str,
    tags: list[str],
    details: dict[str, TagDetails] | None = None,
    error: UpstreamError | None = None,
) -> RepositoryLookup:
    return RepositoryLookup(repository, CHECKED, tuple(tags), details or {}, error)


LOOKUPS = {
    EXPLORER: lookup(
        EXPLORER,
        ["20260731-948", "20260815-999", "20260815-1002", "latest", "main", "pr-301"],
        {"20260815-1002": TagDetails(DIGEST, datetime(2026, 8, 15, 18, tzinfo=UTC))},
    ),
    COMAPEO: lookup(
        COMAPEO,
        ["0.3.0", "0.4.0", "0.5.0-rc.1", "latest"],
        {"0.4.0": TagDetails(DIGEST, datetime(2026, 8, 24, 9, 7, tzinfo=UTC))},
    ),
    WINDMILL: lookup(WINDMILL, ["1.756.0", "1.775.2", "1.780.1", "1.781.0-rc.1", "main"]),
    POSTGRES: lookup(POSTGRES, ["16", "16.9", "16.10", "17", "17.5", "17.6", "18.0"]),
}


def state_of(
    image: str | None, deployed: str | None = DEPLOYED
) -> tuple[UpstreamState, str | None]:
    repository = image.split(":")[0] if image else ""
    found = LOOKUPS.get(repository) or LOOKUPS.get(f"docker.io/{repository}")
    if found is None and image and not image.startswith(("ghcr", "img-")):
        found = LOOKUPS.get(f"docker.io/library/{repository}")
    upstream = app_upstream(image, deployed, found)
    return upstream.state, upstream.newest


class TestStates:
    """app_upstream is the one place that decides a state; each case is one operator question."""

    @pytest.mark.parametrize(
        ("image", "state", "newest"),
        [
            (
                "communityfirst/guardianconnector-explorer:20260731-948",
                UpstreamState.BEHIND,
                "20260815-1002",
            ),
            (
                "communityfirst/guardianconnector-explorer:20260815-1002",
                UpstreamState.CURRENT,
                "20260815-1002",
            ),
            (
                "communityfirst/guardianconnector-explorer:latest",
                UpstreamState.FLOATING,
                "20260815-1002",
            ),
            ("communityfirst/gc-comapeo-cloud:0.3.0", UpstreamState.BEHIND, "0.4.0"),
            ("communityfirst/gc-comapeo-cloud:0.4.0", UpstreamState.REPUSHED, "0.4.0"),
            ("ghcr.io/windmill-labs/windmill:1.775.2", UpstreamState.BEHIND, "1.780.1"),
            ("ghcr.io/windmill-labs/windmill:1.780.1", UpstreamState.CURRENT, "1.780.1"),
            # Ahead of every listed release (a pre-release, a tag the listing lacks): current,
            # and NEWEST is the running tag, never the listed 1.780.1 (a downgrade).
            ("ghcr.io/windmill-labs/windmill:1.781.0-rc.1", UpstreamState.CURRENT, "1.781.0-rc.1"),
            ("ghcr.io/windmill-labs/windmill:1.790.0", UpstreamState.CURRENT, "1.790.0"),
            ("postgres:17", UpstreamState.FLOATING, "17.6"),
            ("postgres:16.9", UpstreamState.BEHIND, "18.0"),
            ("img-captain-superset-worker:2", UpstreamState.MANUAL, None),
        ],
    )
    def test_state(self, image: str, state: UpstreamState, newest: str | None) -> None:
        assert state_of(image) == (state, newest)

    def test_repushed_only_when_built_after_the_deploy(self) -> None:
        image = "communityfirst/gc-comapeo-cloud:0.4.0"
        assert state_of(image, "2026-08-24T10:00:00.000Z")[0] is UpstreamState.CURRENT
        assert state_of(image, "2026-08-24T09:00:00.000Z")[0] is UpstreamState.REPUSHED
        assert state_of(image, None)[0] is UpstreamState.CURRENT  # no deploy time: no claim

    def test_a_digest_pinned_tag_is_judged_by_its_digest(self) -> None:
        # Review (helper): tag@digest references were judged by build time, and a repushed
        # one was redeployed with its old digest, which picks up nothing.
        old = "sha256:" + "0" * 64
        pinned = f"{COMAPEO}:0.4.0@{old}"
        upstream = app_upstream(pinned, "2026-09-01T00:00:00.000Z", LOOKUPS[COMAPEO])
        assert upstream.state is UpstreamState.REPUSHED  # the tag points elsewhere now
        assert upstream.newest_image == f"{COMAPEO}:0.4.0"  # the tag again, no old digest
        same = app_upstream(f"{COMAPEO}:0.4.0@{DIGEST}", DEPLOYED, LOOKUPS[COMAPEO])
        assert same.state is UpstreamState.CURRENT  # runs exactly what the tag names
        floating = app_upstream(f"{COMAPEO}:latest@{old}", DEPLOYED, LOOKUPS[COMAPEO])
        assert (floating.state, floating.newest) == (UpstreamState.FLOATING, "0.4.0")

    def test_the_newest_image_keeps_the_apps_spelling(self) -> None:
        upstream = app_upstream("postgres:16.9", DEPLOYED, LOOKUPS[POSTGRES])
        assert upstream.newest_image == "postgres:18.0"
        windmill = app_upstream(
            "ghcr.io/windmill-labs/windmill:1.775.2", DEPLOYED, LOOKUPS[WINDMILL]
        )
        assert windmill.newest_image == "ghcr.io/windmill-labs/windmill:1.780.1"
        ahead = app_upstream("ghcr.io/windmill-labs/windmill:1.790.0", DEPLOYED, LOOKUPS[WINDMILL])
        assert ahead.newest_image == "ghcr.io/windmill-labs/windmill:1.790.0"

    def test_a_filter_keeps_the_major(self) -> None:
        stay = TagFilter(include=r"^16\.")
        assert app_upstream("postgres:16.9", DEPLOYED, LOOKUPS[POSTGRES], stay).newest == "16.10"


class TestUnknown:
    """``unknown`` always says why, in the words of the issue."""

    @pytest.mark.parametrize(
        ("problem", "label"),
        [
            (LookupProblem.UNREACHABLE, "unknown (registry unreachable)"),
            (LookupProblem.NOT_FOUND, "unknown (repository not found)"),
            (LookupProblem.RATE_LIMITED, "unknown (rate-limited)"),
        ],
    )
    def test_a_failed_lookup(self, problem: LookupProblem, label: str) -> None:
        failed = lookup(EXPLORER, [], error=UpstreamError(problem, "detail"))
        upstream = app_upstream(
            "communityfirst/guardianconnector-explorer:20260731-948", DEPLOYED, failed
        )
        assert upstream.label == label
        assert upstream.as_json() == {
            "newest": None,
            "upstream": "unknown",
            "upstream_error": f"{problem} (detail)",
        }

    def test_no_tag_of_the_running_scheme(self) -> None:
        upstream = app_upstream(
            "ghcr.io/windmill-labs/windmill:20260731-1", DEPLOYED, LOOKUPS[WINDMILL]
        )
        assert upstream.label == "unknown (no tag of the running scheme)"
        assert str(upstream.error) == "no tag of the running scheme (no date-run tag)"

    def test_a_tag_of_no_scheme(self) -> None:
        upstream = app_upstream(
            "communityfirst/guardianconnector-explorer:pr-301", DEPLOYED, LOOKUPS[EXPLORER]
        )
        assert (
            str(upstream.error)
            == "no tag of the running scheme (tag 'pr-301' follows no known scheme)"
        )

    def test_a_floating_app_stays_floating_when_the_registry_is_down(self) -> None:
        failed = lookup(POSTGRES, [], error=UpstreamError(LookupProblem.UNREACHABLE))
        upstream = app_upstream("postgres:17", DEPLOYED, failed)
        assert (upstream.state, upstream.newest) == (UpstreamState.FLOATING, None)
        assert upstream.as_json()["upstream_error"] == "registry unreachable"

    @pytest.mark.parametrize("image", [None, "Not/A/Valid:Image", f"postgres@{DIGEST}"])
    def test_nothing_to_look_up(self, image: str | None) -> None:
        assert app_upstream(image, DEPLOYED, LOOKUPS[POSTGRES]).state is UpstreamState.UNKNOWN


class TestRepositorySummary:
    """``gc-tui upstream``'s row: the newest on the line most apps run, its digest, the count."""

    def test_json(self) -> None:
        summary = repository_summary(LOOKUPS[EXPLORER], ["20260731-948", "20260731-948", "latest"])
        assert summary.as_json() == {
            "repository": EXPLORER,
            "newest": "20260815-1002",
            "digest": DIGEST,
            "tags": 6,
            "error": None,
        }

    def test_the_line_most_apps_run(self) -> None:
        tags = ["16", "17", "17", "16.9"]
        assert repository_summary(LOOKUPS[POSTGRES], tags).newest == "17.6"
        assert repository_summary(LOOKUPS[POSTGRES], ["16", "17"]).newest == "17.6"  # a tie: newer

    def test_a_tie_between_lines_of_two_schemes_keeps_the_first(self) -> None:
        # One app per line, 6.1.0_... and 6.1.0: the tie-break compared a two-part key with a
        # one-part key and raised, which failed every repository's lookup (helper review).
        lookup = RepositoryLookup("example/superset", CHECKED,
                                  tags=("6.1.0_20260818-0907", "6.1.0_20260803-1652", "6.1.0"))
        running = ["6.1.0_20260803-1652", "6.1.0"]
        assert repository_summary(lookup, running).newest == "6.1.0_20260818-0907"
        created, _ = wanted_tags(running, lookup.tags)
        assert created == {"6.1.0_20260818-0907", "6.1.0"}

    def test_nothing_of_the_running_scheme(self) -> None:
        summary = repository_summary(LOOKUPS[WINDMILL], ["20260731-1"])
        assert summary.as_json()["error"] == "no tag of the running scheme"

    def test_what_a_lookup_needs(self) -> None:
        created, digest_only = wanted_tags(
            ["20260731-948", "latest", "pr-999"], LOOKUPS[EXPLORER].tags
        )
        assert created == {"20260815-1002"}
        assert digest_only == {"20260731-948", "latest"}  # pr-999 is not listed


def instance_audit(name: str, *apps: tuple[str, str | None]) -> InstanceAudit:
    return InstanceAudit(
        Instance(name, f"https://captain.{name}.example.org"),
        InstanceStatus.OK,
        apps=tuple(AppInfo(app, 4, image, DEPLOYED) for app, image in apps),
    )


FLEET = [
    instance_audit(
        "alder",
        ("explorer", "communityfirst/guardianconnector-explorer:20260731-948"),
        ("comapeo", "communityfirst/gc-comapeo-cloud:0.4.0"),
        ("windmill", "ghcr.io/windmill-labs/windmill:1.775.2"),
        ("windmill-worker", "ghcr.io/windmill-labs/windmill:1.775.2"),
        ("windmill-worker-native", "ghcr.io/windmill-labs/windmill:1.780.1"),
        ("postgres", "postgres:16.9"),
        ("superset-worker", "img-captain-superset-worker:2"),
    ),
    InstanceAudit(
        Instance("fern", "https://captain.fern.example.org"), InstanceStatus.UNREACHABLE, "refused"
    ),
]


class TestToNewest:
    """Every behind app to its newest; the plan skips holds, server builds, failed instances."""

    def test_selection_and_plan(self) -> None:
        selection = to_newest_selection(FLEET, LOOKUPS)
        plan = build_plan(FLEET, selection.targets, PlanOptions(hold_repositories=("postgres",)))
        assert [(row.app, row.to_image, row.added_by_group) for row in plan.rows] == [
            ("explorer", "communityfirst/guardianconnector-explorer:20260815-1002", False),
            ("windmill", "ghcr.io/windmill-labs/windmill:1.780.1", False),
            ("windmill-worker", "ghcr.io/windmill-labs/windmill:1.780.1", False),
        ]
        assert [(row.app, row.reason.split(";")[0]) for row in plan.skipped] == [
            ("windmill-worker-native", "already on the target image"),  # joined with its group
            ("postgres", "held image (never batch-upgraded)"),
        ]

    def test_include_repushed_redeploys_the_same_image(self) -> None:
        selection = to_newest_selection(FLEET, LOOKUPS, include_repushed=True)
        assert selection.redeploys == frozenset({"alder/comapeo"})
        plan = build_plan(
            FLEET,
            selection.targets,
            PlanOptions(hold_repositories=("postgres",), redeploy=selection.redeploys),
        )
        comapeo = [row for row in plan.rows if row.app == "comapeo"]
        assert [(r.from_image, r.to_image) for r in comapeo] == [
            ("communityfirst/gc-comapeo-cloud:0.4.0", "communityfirst/gc-comapeo-cloud:0.4.0")
        ]

    def test_a_repushed_digest_pin_is_redeployed_by_its_tag(self) -> None:
        pinned = f"{COMAPEO}:0.4.0@sha256:" + "0" * 64
        fleet = [instance_audit("alder", ("comapeo", pinned))]
        selection = to_newest_selection(fleet, LOOKUPS, include_repushed=True)
        assert [(t.app, t.image) for t in selection.targets] == [("comapeo", f"{COMAPEO}:0.4.0")]

    def test_without_redeploy_the_plan_still_skips_the_same_image(self) -> None:
        selection = to_newest_selection(FLEET, LOOKUPS, include_repushed=True)
        plan = build_plan(FLEET, selection.targets, PlanOptions(hold_repositories=("postgres",)))
        assert "comapeo" not in [row.app for row in plan.rows]

    def test_what_to_look_up(self) -> None:
        wanted = wanted_repositories(FLEET)
        assert sorted(wanted) == sorted([EXPLORER, COMAPEO, WINDMILL, POSTGRES])
        assert wanted[WINDMILL] == ["1.775.2", "1.775.2", "1.780.1"]

    def test_upstream_of_an_audited_app(self) -> None:
        explorer = FLEET[0].apps[0]
        assert upstream_of_app(explorer, LOOKUPS).state is UpstreamState.BEHIND
        assert upstream_of_app(explorer, {}).label == "unknown (not looked up)"


class TestBump:
    """``targets bump``: each target to the newest of its own line, the diff before writing."""

    def test_bump_and_diff(self, tmp_path: Path) -> None:
        path = tmp_path / "targets.toml"
        save_targets(
            path,
            targets_from_mapping(
                {
                    "explorer": "communityfirst/guardianconnector-explorer:20260731-948",
                    "windmill": "ghcr.io/windmill-labs/windmill:1.780.1",
                    "comapeo": "communityfirst/gc-comapeo-cloud:latest",
                    "db": "postgres:16.9",
                    "lsp": "ghcr.io/windmill-labs/windmill-lsp:1.518.2",
                },
                hold_repositories=["postgres"],
                upstream={"ghcr.io/windmill-labs/windmill": {"exclude": "-rc"}},
            ),
        )
        before = load_targets(path)
        report = bump_targets(before, LOOKUPS)
        assert [(c.app, c.old, c.new) for c in report.changes] == [
            (
                "explorer",
                "communityfirst/guardianconnector-explorer:20260731-948",
                "communityfirst/guardianconnector-explorer:20260815-1002",
            )
        ]
        assert [(s.app, s.reason) for s in report.skipped] == [
            ("comapeo", "floating tag; a target names one build"),
            ("db", "held repository"),
            ("lsp", "not looked up"),
        ]
        diff = targets_diff(report.targets, path.read_text(), "targets.toml")
        assert diff.splitlines()[2:] == [
            "@@ -1,7 +1,7 @@",
            " [targets]",
            ' comapeo = "communityfirst/gc-comapeo-cloud:latest"',
            ' db = "postgres:16.9"',
            '-explorer = "communityfirst/guardianconnector-explorer:20260731-948"',
            '+explorer = "communityfirst/guardianconnector-explorer:20260815-1002"',
            ' lsp = "ghcr.io/windmill-labs/windmill-lsp:1.518.2"',
            ' windmill = "ghcr.io/windmill-labs/windmill:1.780.1"',
            " ",
        ]
        save_targets(path, report.targets)
        after = load_targets(path)
        assert after.upstream == before.upstream  # the [upstream] table survives a bump
        assert bump_targets(after, LOOKUPS).changes == ()

    def test_a_failed_lookup_is_a_reason(self) -> None:
        targets = targets_from_mapping(
            {"explorer": "communityfirst/guardianconnector-explorer:20260731-948"}
        )
        failed = {
            EXPLORER: lookup(
                EXPLORER,
                [],
                error=UpstreamError(LookupProblem.RATE_LIMITED, "retry after 2026-08-25T10:00:00Z"),
            )
        }
        assert [s.reason for s in bump_targets(targets, failed).skipped] == [
            "rate-limited (retry after 2026-08-25T10:00:00Z)"
        ]


def test_running_tags_are_kept_per_app() -> None:
    assert running_tags_by_repository(
        ["postgres:17", "postgres", "postgres:17", "img-captain-x:1", None, "BAD"]
    ) == {POSTGRES: ["17", "latest", "17"]}
