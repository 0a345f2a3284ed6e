"""The matrix view (`m`), driven by the keyboard alone as an operator would, at 80x24 and
200x50: the same marks, filter, detail and deploy as the table, cells that say their state,
failed instances across their row, and tags cut only when the terminal is too narrow."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input, Static

from gc_tui.core.engine import RowState
from gc_tui.core.targets import save_targets, targets_from_mapping
from gc_tui.core.upstream import AppUpstream, UpstreamState
from gc_tui.settings import Settings
from gc_tui.tui.app import make_app
from gc_tui.tui.fleet_model import Changes
from gc_tui.tui.screens.deploy import DeployScreen
from gc_tui.tui.screens.detail import DetailScreen
from tests.demo_data import demo_fleet_data
from tests.tui.canned import deploy_event, load_canned

SIZES = [(80, 24), (200, 50)]


@pytest.fixture
def targets(tmp_path: Path) -> Path:
    path = tmp_path / "targets.toml"
    save_targets(path, targets_from_mapping(demo_fleet_data()["target_images"]))
    return path


def app_with(targets: Path):  # type: ignore[no-untyped-def]
    return make_app(Settings(vault=Path("fleet.kdbx"), targets_path=targets))


def lines_of(app) -> list[str]:  # type: ignore[no-untyped-def]
    """The matrix as drawn now, one string per line on screen."""
    matrix = app.fleet_screen.matrix
    return [strip.text for strip in matrix.render_lines(matrix.region.reset_offset)]


async def open_matrix(pilot) -> None:  # type: ignore[no-untyped-def]
    await load_canned(pilot)
    await pilot.press("m")
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "200x50"])
class TestKeyboardAlone:
    """Every operator task of the matrix works with keys only, at both sizes."""

    async def test_walk_mark_detail_and_deploy(self, targets: Path, size: tuple[int, int]) -> None:
        app = app_with(targets)
        async with app.run_test(size=size) as pilot:
            await open_matrix(pilot)
            screen = app.fleet_screen
            matrix = screen.matrix
            assert screen.matrix_shown and matrix.has_focus and not screen.table.display
            await pilot.press("home", *["left"] * 20)  # the top left cell
            assert matrix.cursor == ("staging", "postgres")
            await pilot.press("down", "down", *["right"] * 6)  # bluecanyon / superset
            assert matrix.cursor == ("bluecanyon", "superset")
            window = matrix.window
            assert window is not None and window.index_of("superset") is not None
            await pilot.press("space")  # marks the cell and moves down, as in the table
            assert app.fleet.marks == {"bluecanyon/superset"}
            assert matrix.cursor == ("cedarmesa", "superset")
            await pilot.press("space")
            assert app.fleet.marks == {"bluecanyon/superset", "cedarmesa/superset"}
            await pilot.press("enter")
            await pilot.pause()
            assert isinstance(app.screen, DetailScreen)
            assert app.screen.key == "driftwood/superset"  # the cursor's cell
            await pilot.press("escape", "d")
            await pilot.pause()
            assert isinstance(app.screen, DeployScreen)
            assert [row.key for row in app.screen.rows] == [
                "bluecanyon/superset", "cedarmesa/superset"]

    async def test_the_table_shows_the_same_marks_and_the_same_cursor(
        self, targets: Path, size: tuple[int, int]
    ) -> None:
        app = app_with(targets)
        async with app.run_test(size=size) as pilot:
            await open_matrix(pilot)
            screen = app.fleet_screen
            screen.matrix.move_to_key("heronmarsh/windmill-worker")
            await pilot.press("space", "m")
            await pilot.pause()
            assert not screen.matrix_shown and screen.table.has_focus
            assert screen.table.cursor_key() == "ironwood/windmill-worker"  # the next line's
            assert screen.table.get_cell("heronmarsh/windmill-worker", "mark").plain == "●"
            screen.table.move_to_key("heronmarsh/windmill-worker")
            await pilot.press("space", "m")  # unmarked in the table, gone in the matrix
            await pilot.pause()
            assert app.fleet.marks == set()
            assert screen.matrix.cursor == ("heronmarsh", "windmill-worker-native")

    async def test_the_filter_picks_rows_and_app_picks_columns(
        self, targets: Path, size: tuple[int, int]
    ) -> None:
        app = app_with(targets)
        async with app.run_test(size=size) as pilot:
            await open_matrix(pilot)
            screen = app.fleet_screen
            await pilot.press("slash")
            await pilot.pause()
            await pilot.press(*"app:^superset", "enter")
            await pilot.pause()
            shown = screen.matrix.shown
            assert shown.apps == ("superset", "superset-worker", "superset-init-and-beat")
            assert "fernridge" not in shown.instances and len(shown.instances) == 10
            assert screen.matrix.has_focus
            counts = str(screen.query_one("#matrix-counts", Static).render()).replace("\xa0", " ")
            assert "↓ stale 9" in counts and "✎ manual 6" in counts
            screen.query_one("#filter", Input).value = "instance:^(emberfalls|fernridge)$"
            screen.apply_filter()
            await pilot.pause()
            shown = screen.matrix.shown
            assert shown.instances == ("emberfalls", "fernridge")
            assert "postgres" in shown.apps and screen.matrix.cursor == ("emberfalls", "postgres")
            await pilot.press("escape")
            await pilot.pause()
            assert len(screen.matrix.shown.instances) == 12


class TestWhatCellsSay:
    async def test_the_tui_grid_is_the_headless_grid(self, targets: Path) -> None:
        """The same core rows: every cell's text and state, and the legend's counts."""
        from gc_tui.core.matrix import build_matrix
        from gc_tui.core.targets import load_targets
        from tests.tui.canned import canned_audits

        headless = build_matrix(canned_audits(), load_targets(targets))
        app = app_with(targets)
        async with app.run_test(size=(120, 40)) as pilot:
            await open_matrix(pilot)
            shown = app.fleet_screen.matrix.shown
            assert shown.apps == headless.apps
            for row in headless.rows:
                assert shown.rows[row.instance] == row
            assert shown.counts() == headless.counts()
            counts = str(app.fleet_screen.query_one("#matrix-counts", Static).render())
            assert "✓\xa0current\xa047" in counts and "✗\xa02\xa0failed" in counts

    async def test_failed_instances_show_their_status_across_the_row(self, targets: Path) -> None:
        app = app_with(targets)
        async with app.run_test(size=(120, 40)) as pilot:
            await open_matrix(pilot)
            lines = lines_of(app)
            fernridge = next(line for line in lines if line.startswith("fernridge"))
            assert "✗ unreachable: connection refused" in fernridge
            app.fleet_screen.matrix.move_to_key("graniteflats/\x00")
            await pilot.pause()
            assert app.fleet_screen.matrix.cursor_key() == "graniteflats/\x00"
            legend = str(app.fleet_screen.query_one("#matrix-cell", Static).render())
            assert "graniteflats: auth failed: wrong password" in legend

    async def test_tags_are_cut_only_when_the_terminal_is_too_narrow(
        self, targets: Path
    ) -> None:
        app = app_with(targets)
        async with app.run_test(size=(200, 50)) as pilot:
            await open_matrix(pilot)
            staging = next(line for line in lines_of(app) if line.startswith("staging"))
            assert "✓ 20260731-948" in staging and "✓ 20260728-165" in staging
            await pilot.resize_terminal(80, 24)
            await pilot.pause()
            app.fleet_screen.matrix.move_to_key("staging/superset")
            await pilot.pause()
            staging = next(line for line in lines_of(app) if line.startswith("staging"))
            assert "✓ …0803-1652" in staging  # the end of the date build stays
            assert max(len(line) for line in lines_of(app)) <= 80

    async def test_a_deploy_shows_on_its_cell_until_done(self, targets: Path) -> None:
        app = app_with(targets)
        async with app.run_test(size=(200, 50)) as pilot:
            await open_matrix(pilot)
            model = app.fleet
            model.apply_run_event(deploy_event("bluecanyon/explorer", RowState.BUILDING,
                                               started_at=1.0, at=1.0), "repo/x:1")
            model.apply_run_event(deploy_event("driftwood/explorer", RowState.FAILED,
                                               started_at=1.0, at=2.0, error="build failed"))
            app.fleet_screen.flush()
            await pilot.pause()
            lines = {line.split()[0]: line for line in lines_of(app)[1:] if line.strip()}
            assert "» building" in lines["bluecanyon"]
            assert "✗ failed" in lines["driftwood"]
            model.apply_run_event(deploy_event("bluecanyon/explorer", RowState.DONE, at=3.0))
            app.fleet_screen.flush()
            await pilot.pause()
            lines = {line.split()[0]: line for line in lines_of(app)[1:] if line.strip()}
            assert "» building" not in lines["bluecanyon"] and "↓ 20260727-932" in lines[
                "bluecanyon"]

    async def test_upstream_states_show_when_lookups_reach_the_grid(
        self, targets: Path
    ) -> None:
        """Upstream when a registry answered, else drift: the grid takes lookups as input."""
        app = app_with(targets)
        async with app.run_test(size=(200, 50)) as pilot:
            await load_canned(pilot)
            matrix = app.fleet_screen.matrix

            def upstream(instance: str, app_info):  # type: ignore[no-untyped-def]
                if app_info.name != "explorer":
                    return None
                return AppUpstream(UpstreamState.BEHIND, newest="20260901-1000")

            await pilot.press("m")
            await pilot.pause()
            staging = next(line for line in lines_of(app) if line.startswith("staging"))
            assert "✓ 20260731-948" in staging  # no lookups yet: on target
            matrix.grid.set_upstream(upstream)  # lookups arrive after the audit
            app.fleet_screen.flush(force_header=True)
            matrix.sync(app.fleet, Changes(structure=True), 0.0)
            await pilot.pause()
            staging = next(line for line in lines_of(app) if line.startswith("staging"))
            assert "↓ 20260731-948" in staging  # on target, behind upstream
            assert "✓ 20260728-165" in staging  # gc-landing-page: drift, as before

    async def test_a_jump_to_a_cell_off_screen_brings_its_column(self, targets: Path) -> None:
        import re

        app = app_with(targets)
        async with app.run_test(size=(80, 24)) as pilot:
            await open_matrix(pilot)
            app.fleet_screen.matrix.move_to_key("kestrelbay/wildlife")
            await pilot.pause()
            screen = re.sub(r"<[^>]+>", "", app.export_screenshot()).replace("&#160;", " ")
            assert "wildlife" in screen and "◂" in screen

    async def test_enter_on_an_absent_app_says_so(self, targets: Path) -> None:
        app = app_with(targets)
        said: list[str] = []
        async with app.run_test(size=(120, 40)) as pilot:
            await open_matrix(pilot)
            app.notify = lambda message, **_: said.append(str(message))
            app.fleet_screen.matrix.move_to_key("staging/wildlife")
            await pilot.press("enter")
            await pilot.pause()
            assert not isinstance(app.screen, DetailScreen)
            assert said == ["wildlife is not on staging."]

    async def test_the_lock_leaves_nothing_from_the_servers(self, targets: Path) -> None:
        app = app_with(targets)
        async with app.run_test(size=(120, 40)) as pilot:
            await open_matrix(pilot)
            matrix = app.fleet_screen.matrix
            assert matrix.cached_cells() > 0
            app.fleet.clear()
            app.fleet_screen.reset()
            await pilot.pause()
            assert matrix.cached_cells() == 0
            assert matrix.shown.instances == () and matrix.grid.shown(app.fleet).rows == {}
            assert not any("staging" in line for line in lines_of(app))
