"""What is new upstream, in the table: NEWEST filled in as registries answer, the status filter,
n, the deploy dialog's prefill, the detail view, and the cache shown at once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import Input, Static

from gc_tui.config import Config
from gc_tui.core.targets import save_targets, targets_from_mapping
from gc_tui.core.upstream import UpstreamState
from gc_tui.demo.catalog import demo_fleet_data
from gc_tui.demo.registry_catalog import DEMO_UPSTREAM_RULES, DemoRegistries
from gc_tui.tui.app import GcTuiApp
from gc_tui.tui.fleet_rows import FleetRow
from gc_tui.tui.screens.deploy import DeployScreen
from gc_tui.tui.screens.detail import DetailScreen
from gc_tui.tui.widgets.fleet_cells import newest_word
from tests.tui.harness import SIZE, Fleet, audited, fast_demo_instances, start_fleet, wait_for

EXPLORER = "communityfirst/guardianconnector-explorer"
NEWEST_EXPLORER = f"{EXPLORER}:20260815-1002"


@pytest.fixture
def registries() -> Iterator[DemoRegistries]:
    yield DemoRegistries()


@pytest.fixture
def fleet(tmp_path: Path, registries: DemoRegistries) -> Iterator[Fleet]:
    with start_fleet(tmp_path, fast_demo_instances()) as running:
        running.thread.call(registries.start)
        try:
            yield running
        finally:
            running.thread.call(registries.stop)


def app_for(fleet: Fleet, registries: DemoRegistries, tmp_path: Path) -> GcTuiApp:
    from gc_tui.core.registry_config import RegistrySettings

    targets = tmp_path / "targets.toml"
    save_targets(targets, targets_from_mapping(demo_fleet_data()["target_images"],
                                               upstream=DEMO_UPSTREAM_RULES))
    config = Config(registries={
        host: RegistrySettings(host, url=url) for host, url in registries.mirrors().items()
    })
    return fleet.app(config=config, targets_path=targets)


def upstream_state(row: FleetRow) -> UpstreamState | None:
    return None if row.upstream is None else row.upstream.state


def looked_up(app: GcTuiApp) -> bool:
    row = app.fleet.rows.get("staging/explorer")
    return audited(app) and row is not None and row.upstream is not None


async def test_newest_filter_mark_prefill_and_detail(
    fleet: Fleet, registries: DemoRegistries, tmp_path: Path
) -> None:
    app = app_for(fleet, registries, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: looked_up(app))
        rows = app.fleet.rows
        assert newest_word(rows["staging/explorer"]) == "↑ 20260815-1002"
        await wait_for(pilot, lambda: rows["staging/comapeo"].upstream is not None)
        assert upstream_state(rows["staging/comapeo"]) is UpstreamState.REPUSHED
        assert newest_word(rows["staging/gc-landing-page"]).startswith("= ")
        # status:behind shows exactly the rows behind upstream
        app.fleet_screen.query_one("#filter", Input).value = "status:behind app:^explorer$"
        app.fleet_screen.apply_filter()
        await pilot.pause()
        shown = app.fleet_screen.table.visible_keys()
        assert shown and all(upstream_state(rows[key]) is UpstreamState.BEHIND for key in shown)
        # n marks them; d offers the signed-off target while some are not on it yet ...
        await pilot.press("n")
        await pilot.pause()
        assert app.fleet.marks == set(shown)
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, DeployScreen))
        assert app.screen.query_one("#deploy-image", Input).value == f"{EXPLORER}:20260731-948"
        await pilot.press("escape")
        await pilot.pause()
        # ... and the newest tag upstream once they all are
        await pilot.press("u")
        app.fleet_screen.query_one("#filter", Input).value = (
            "status:behind status:current app:^explorer$"
        )
        app.fleet_screen.apply_filter()
        await pilot.press("n", "d")
        await wait_for(pilot, lambda: isinstance(app.screen, DeployScreen))
        assert app.screen.query_one("#deploy-image", Input).value == NEWEST_EXPLORER
        await pilot.press("escape")
        await pilot.pause()
        app.fleet_screen.table.move_to_key("staging/explorer")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen))
        body = str(app.screen.query_one("#detail-body", Static).render())
        assert "Upstream        behind" in body
        assert "Newest          20260815-1002  built 2026-08-15" in body
        assert "  digest        sha256:" in body


async def test_the_cache_is_shown_at_once_when_registries_are_gone(
    fleet: Fleet, registries: DemoRegistries, tmp_path: Path
) -> None:
    first = app_for(fleet, registries, tmp_path)
    async with first.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: looked_up(first))
        await wait_for(pilot, lambda: first.ops.upstream is not None
                       and first.ops.upstream.pending == 0)
    fleet.thread.call(registries.stop)  # offline now; the cache (fresh for an hour) remains
    second = app_for(fleet, registries, tmp_path)
    async with second.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: looked_up(second))
        assert newest_word(second.fleet.rows["staging/explorer"]) == "↑ 20260815-1002"
    fleet.thread.call(registries.start)  # for the fixture's stop


async def test_no_registry_answers_and_the_table_does_not_wait(
    fleet: Fleet, registries: DemoRegistries, tmp_path: Path
) -> None:
    fleet.thread.call(registries.stop)
    app = app_for(fleet, registries, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: looked_up(app))
        assert upstream_state(app.fleet.rows["staging/explorer"]) is UpstreamState.UNKNOWN
        assert newest_word(app.fleet.rows["staging/explorer"]) == "? registry unreachable"
    fleet.thread.call(registries.start)


async def test_the_matrix_shows_what_the_registries_said(
    fleet: Fleet, registries: DemoRegistries, tmp_path: Path
) -> None:
    """m after the lookups: a cell behind upstream says so, not just 'on target'."""
    import re

    app = app_for(fleet, registries, tmp_path)
    async with app.run_test(size=(200, 50)) as pilot:
        await pilot.press("m")
        await wait_for(pilot, lambda: looked_up(app))
        app.fleet_screen.flush()
        await pilot.pause()
        screen = re.sub(r"<[^>]+>", "", app.export_screenshot()).replace("&#160;", " ")
        staging = next(line for line in screen.splitlines() if line.strip().startswith("staging"))
        assert "↓ 20260731-948" in staging  # explorer: on its target, behind the registry
