"""SVG snapshots of each screen: canned audits, fixed size, no cursor blink, no clock text.

Update with: .venv/bin/python -m pytest tests/tui/test_snapshots.py --snapshot-update
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input

from tests.tui.canned import app_for_snapshot, fleet_loaded, no_blink

SNAP_SIZE = (120, 34)
SnapCompare = Callable[..., bool]  # pytest-textual-snapshot's fixture


def test_unlock_screen(snap_compare: SnapCompare) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        no_blink(pilot.app)
        await pilot.pause()

    assert snap_compare(app_for_snapshot(), run_before=run_before, terminal_size=SNAP_SIZE)


def test_fleet_table(snap_compare: SnapCompare) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await fleet_loaded(pilot)
        await pilot.press("down", "space", "space")
        await pilot.pause()

    assert snap_compare(app_for_snapshot(), run_before=run_before, terminal_size=SNAP_SIZE)


def test_filter(snap_compare: SnapCompare) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        app = await fleet_loaded(pilot)
        await pilot.press("slash")
        app.screen.query_one("#filter", Input).value = "!status:ok"
        no_blink(app)
        app.fleet_screen.apply_filter()
        await pilot.pause()

    assert snap_compare(app_for_snapshot(), run_before=run_before, terminal_size=SNAP_SIZE)


def test_deploy_dialog(snap_compare: SnapCompare) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        app = await fleet_loaded(pilot)
        app.fleet_screen.query_one("#filter", Input).value = "app:^explorer$"
        app.fleet_screen.apply_filter()
        await pilot.press("a", "d")
        await pilot.pause()
        no_blink(app)
        app.screen.query_one("#deploy-image", Input).value = (
            "communityfirst/guardianconnector-explorer:20260901-1000"
        )
        await pilot.pause()

    assert snap_compare(app_for_snapshot(), run_before=run_before, terminal_size=SNAP_SIZE)


def test_detail(snap_compare: SnapCompare) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        app = await fleet_loaded(pilot)
        app.fleet_screen.table.move_to_key("emberfalls/redis")
        await pilot.press("enter")
        await pilot.pause()

    assert snap_compare(app_for_snapshot(), run_before=run_before, terminal_size=SNAP_SIZE)


def test_help(snap_compare: SnapCompare) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await fleet_loaded(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(app_for_snapshot(), run_before=run_before, terminal_size=SNAP_SIZE)


def test_read_only_deploy_dialog(snap_compare: SnapCompare) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        app = await fleet_loaded(pilot)
        app.fleet_screen.table.move_to_key("staging/explorer")
        await pilot.press("d")
        await pilot.pause()
        no_blink(app)

    assert snap_compare(app_for_snapshot(read_only=True), run_before=run_before,
                        terminal_size=SNAP_SIZE)


def test_caprover_update_dialog(snap_compare: SnapCompare) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        app = await fleet_loaded(pilot)
        app.fleet_screen.query_one("#filter", Input).value = (
            "instance:^(emberfalls|staging|fernridge)$"
        )
        app.fleet_screen.apply_filter()
        await pilot.press("a", "U")
        await pilot.pause()

    assert snap_compare(app_for_snapshot(), run_before=run_before, terminal_size=SNAP_SIZE)
