"""The matrix's grid (core/matrix.py): which state a cell shows, the order of the columns,
what a cell says, and how the grid fits a width (core/matrix_fit.py, report.audit_matrix)."""

from __future__ import annotations

import pytest

from gc_tui.core.drift import Drift, DriftState
from gc_tui.core.matrix import (
    STACK_APPS,
    STATE_GLYPHS,
    MatrixCell,
    build_matrix,
    cell_state,
    column_order,
    image_tag,
    matrix_row,
    upstream_from_lookups,
)
from gc_tui.core.matrix_fit import (
    abbreviate_tag,
    fit_widths,
    keep_end,
    panels,
    share_room,
    short_label,
    text_width,
)
from gc_tui.core.model import AppInfo, Instance, InstanceAudit, InstanceStatus
from gc_tui.core.targets import Targets
from gc_tui.core.upstream import AppUpstream, RepositoryLookup, UpstreamState
from gc_tui.report import audit_matrix
from tests.demo_data import demo_fleet_data
from tests.tui.canned import canned_audits

EXPLORER = "communityfirst/guardianconnector-explorer"


def drift(state: DriftState) -> Drift:
    return Drift(state, None, "")


def upstream(state: UpstreamState) -> AppUpstream:
    return AppUpstream(state, newest="20260731-948")


def audit(name: str, *apps: tuple[str, str | None]) -> InstanceAudit:
    return InstanceAudit(
        Instance(name, f"https://captain.{name}.example.org"), InstanceStatus.OK, None, None,
        tuple(AppInfo(app, 1, image, "2026-08-01T10:00:00.000Z") for app, image in apps),
    )


class TestCellState:
    """Upstream when a registry answered, else drift; what forbids a batch always shows."""

    @pytest.mark.parametrize("policy", [DriftState.MANUAL, DriftState.HELD, DriftState.MISSING])
    @pytest.mark.parametrize("registry", list(UpstreamState))
    def test_policy_states_win_over_any_upstream(
        self, policy: DriftState, registry: UpstreamState
    ) -> None:
        assert cell_state(drift(policy), upstream(registry)) is policy

    @pytest.mark.parametrize("registry", [state for state in UpstreamState
                                          if state is not UpstreamState.UNKNOWN])
    @pytest.mark.parametrize("target", [DriftState.CURRENT, DriftState.STALE, DriftState.AHEAD,
                                        DriftState.UNMANAGED, DriftState.OTHER_REPO])
    def test_a_known_upstream_wins_over_drift(
        self, target: DriftState, registry: UpstreamState
    ) -> None:
        assert cell_state(drift(target), upstream(registry)) is registry

    @pytest.mark.parametrize("target", [DriftState.STALE, DriftState.UNMANAGED, DriftState.CURRENT])
    def test_without_an_answer_the_drift_shows(self, target: DriftState) -> None:
        assert cell_state(drift(target), None) is target
        assert cell_state(drift(target), upstream(UpstreamState.UNKNOWN)) is target


class TestColumnOrder:
    """The stack's apps first in the stack's order, then the rest by name, groups together."""

    def test_stack_first_then_the_rest_alphabetically(self) -> None:
        apps = ["wildlife", "explorer", "superset-worker", "postgres", "story-map", "superset",
                "windmill-worker-native", "windmill", "superset-init-and-beat"]
        assert column_order(apps) == (
            "postgres", "windmill", "windmill-worker-native", "superset", "superset-worker",
            "superset-init-and-beat", "explorer", "story-map", "wildlife",
        )

    def test_a_group_outside_the_stack_keeps_its_members_together(self) -> None:
        apps = ["test-superset-worker", "test-superset-init-and-beat", "test-superseta",
                "test-superset", "reports-cron", "reports", "quarry"]
        assert column_order(apps) == (
            "quarry", "reports", "reports-cron", "test-superset", "test-superset-worker",
            "test-superset-init-and-beat", "test-superseta",
        )
        groups = {"billing": ("reports-cron", "reports")}  # a targets file's [groups]
        assert column_order(["reports", "quarry", "reports-cron"], groups) == (
            "quarry", "reports-cron", "reports",
        )

    def test_the_stack_lists_every_built_in_group_member(self) -> None:
        assert {"superset-worker", "windmill-worker-native", "files"} <= set(STACK_APPS)
        assert len(STACK_APPS) == len(set(STACK_APPS))


class TestCells:
    def test_a_cell_says_its_tag_manual_or_a_dash(self) -> None:
        row = matrix_row(audit("acme", ("explorer", f"{EXPLORER}:20260731-948"),
                               ("redis", "img-captain-redis:3"),
                               ("files", "filebrowser/filebrowser"), ("broken", None)))
        assert row.cell("explorer").text == "20260731-948"
        assert row.cell("redis").text == "manual"
        assert row.cell("files").text == "latest"  # what Docker pulls
        assert row.cell("broken").text == "?"
        absent = row.cell("comapeo")
        assert (absent.present, absent.text, absent.state) == (False, "-", None)
        assert row.cell("redis").key == "acme/redis"  # the table's row key: marks are shared

    def test_tags_as_the_json_audit_spells_the_image(self) -> None:
        assert image_tag("postgres:17-alpine") == "17-alpine"
        assert image_tag("registry.example.org:5000/cmi/app:1.2") == "1.2"
        assert image_tag("repo/app@sha256:" + "a" * 64) == "@sha256:aaaaaaa"

    def test_missing_target_apps_are_cells_and_failed_instances_have_none(self) -> None:
        targets = Targets(images={"comapeo": "communityfirst/gc-comapeo-cloud:0.4.0"})
        failed = InstanceAudit(Instance("down", "https://captain.down.example.org"),
                               InstanceStatus.UNREACHABLE, "connection refused")
        matrix = build_matrix([audit("acme", ("postgres", "postgres:17")), failed], targets)
        acme, down = matrix.rows
        assert acme.cell("comapeo").state is DriftState.MISSING
        assert acme.cell("comapeo").text == "-"
        assert acme.cell("postgres").state is DriftState.HELD  # no target, still held
        assert not down.ok and down.cells == {}
        assert down.status_text == "unreachable: connection refused"
        assert matrix.counts() == {"missing": 1, "held": 1}
        assert matrix.failed == 1

    def test_upstream_lookups_give_upstream_states(self) -> None:
        from datetime import UTC, datetime

        lookups = {
            "docker.io/communityfirst/guardianconnector-explorer": RepositoryLookup(
                "docker.io/communityfirst/guardianconnector-explorer", datetime.now(UTC),
                tags=("20260716-901", "20260731-948", "latest"),
            )
        }
        targets = Targets(images={"explorer": f"{EXPLORER}:20260716-901"})
        row = matrix_row(audit("acme", ("explorer", f"{EXPLORER}:20260716-901"),
                               ("redis", "redis:7.2.4")),
                         targets, upstream_from_lookups(lookups))
        assert row.cell("explorer").state is UpstreamState.BEHIND  # on target, behind upstream
        assert "newest upstream 20260731-948" in row.cell("explorer").detail
        assert row.cell("redis").state is DriftState.UNMANAGED  # not looked up: drift shows

    def test_every_state_has_a_glyph(self) -> None:
        words = {str(state) for state in DriftState} | {str(state) for state in UpstreamState}
        assert words == set(STATE_GLYPHS)
        assert all(text_width(glyph) == 1 for glyph in STATE_GLYPHS.values())


class TestFitting:
    """Tags are cut only when the room runs out, date builds keeping the end that differs."""

    def test_date_builds_keep_their_end_versions_their_start(self) -> None:
        assert abbreviate_tag("20260731-948", 12) == "20260731-948"
        assert abbreviate_tag("20260731-948", 9) == "…0731-948"
        assert abbreviate_tag("6.1.0_20260803-1652", 10) == "…0803-1652"
        assert abbreviate_tag("v2.63.23-s6", 6) == "v2.63…"
        assert short_label("superset-init-and-beat", 10) == "…-and-beat"
        assert short_label("gc-landing-page", 10) == "gc-landin…"
        assert keep_end("名前名前", 5) == "…名前"

    def test_the_widest_give_way_first_and_never_below_their_floor(self) -> None:
        assert fit_widths([5, 20, 10], [3, 8, 8], 40) == [5, 20, 10]
        assert fit_widths([5, 20, 10], [3, 8, 8], 25) == [5, 10, 10]
        assert fit_widths([5, 20, 10], [3, 8, 8], 10) == [3, 8, 8]
        # Labels give way before cells: 22-cell names over 9-cell tags.
        assert share_room([9, 21], [24, 10], [9, 10], 34, 8) == [13, 21]
        assert panels([10, 10, 10, 10], 25) == [range(0, 2), range(2, 4)]


class TestHeadless:
    """``audit --format matrix``: the grid of the demo fleet as text."""

    @pytest.fixture
    def matrix(self):  # type: ignore[no-untyped-def]
        return build_matrix(canned_audits(), Targets(images=demo_fleet_data()["target_images"]))

    def test_full_width_every_cell_whole(self, matrix) -> None:  # type: ignore[no-untyped-def]
        lines = audit_matrix(matrix).splitlines()
        header = lines[0].split()
        assert header == ["instance", *matrix.apps]
        by_name = {line.split()[0]: line for line in lines[1:] if line}
        assert by_name["fernridge"].split(None, 1)[1] == "unreachable: connection refused"
        cedarmesa = dict(zip(matrix.apps, by_name["cedarmesa"].split()[1:], strict=True))
        assert cedarmesa["superset-worker"] == "manual"
        assert cedarmesa["superset"] == "6.1.0_20260713-2211"
        assert cedarmesa["wildlife"] == "-"
        assert "cells: 47 current, 32 stale" in lines[-1]

    @pytest.mark.parametrize("width", [80, 120, 200])
    def test_it_fits_the_terminal(self, matrix, width: int) -> None:  # type: ignore[no-untyped-def]
        text = audit_matrix(matrix, width)
        assert max(text_width(line) for line in text.splitlines()) <= width
        blocks = text.split("\n\n")[:-1]  # the summary last
        shown = [app for block in blocks for app in block.splitlines()[0].split()[1:]]
        assert len(shown) == len(matrix.apps)  # every column, in some block
        for block in blocks:
            assert [line.split()[0] for line in block.splitlines()[1:]] == [
                row.instance for row in matrix.rows
            ]

    @pytest.mark.parametrize("width", [None, 80])
    def test_with_no_instance_answering_each_says_why(self, width: int | None) -> None:
        # Review (helper): with no app column the status was cut to nothing: names, blanks.
        down = InstanceAudit(Instance("down", "https://captain.down.example.org"),
                             InstanceStatus.UNREACHABLE, "connection refused")
        lines = audit_matrix(build_matrix([down]), width).splitlines()
        assert lines[1].split(None, 1) == ["down", "unreachable: connection refused"]

    def test_server_text_is_printable(self) -> None:
        hostile = audit("evil\x1b]0;pwned\x07", ("app\x1b[31m", "repo/app:1\x07"))
        text = audit_matrix(build_matrix([hostile]))
        assert "\x1b" not in text and "\x07" not in text


def test_a_cell_is_frozen() -> None:
    cell = MatrixCell("acme", "explorer", True, f"{EXPLORER}:1", DriftState.CURRENT)
    with pytest.raises(AttributeError):
        cell.app = "other"  # type: ignore[misc]


def test_the_demo_matrix_equals_the_json_audit() -> None:
    """Done-when of issue 17: each cell is the JSON audit's tag for that instance and app."""
    import io
    import json

    from gc_tui.cli import run

    def demo(*argv: str) -> str:
        out = io.StringIO()
        run(["demo", *argv], stdin=io.StringIO(""), stdout=out, stderr=io.StringIO())
        return out.getvalue()

    audit_json = json.loads(demo("audit", "--format", "json"))
    lines = demo("audit", "--format", "matrix").splitlines()
    apps = lines[0].split()[1:]
    grid = {line.split()[0]: line.split()[1:] for line in lines[1:] if line.strip()}
    checked = 0
    for instance in audit_json["instances"]:
        cells = grid[instance["name"]]
        if instance["status"] != "ok":
            assert " ".join(cells).startswith(instance["status"].replace("_", " "))
            continue
        images = {app["app"]: app for app in instance["apps"]}
        for app_name, cell in zip(apps, cells, strict=True):
            record = images.get(app_name)
            if record is None or record["image"] is None:
                expected = "-"
            elif record["manual"]:
                expected = "manual"
            else:
                expected = record["image"].rpartition(":")[2]
            assert cell == expected, (instance["name"], app_name)
            checked += 1
    assert checked >= 10 * 12
