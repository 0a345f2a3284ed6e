"""What an operator meets in the first week: quick keys, a wrong password, a quit mid-run,
a terminal that goes away."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input, Static

from gc_tui.core.engine import RowState
from gc_tui.tui.screens.confirm import ConfirmScreen
from gc_tui.tui.screens.deploy import DeployScreen
from tests.tui.harness import (
    SIZE,
    Fleet,
    audited,
    deploy_from_dialog,
    fast_demo_instances,
    start_fleet,
    wait_for,
)

EXPLORER = "communityfirst/guardianconnector-explorer"


async def test_enter_tab_enter_deploys_at_any_typing_speed(demo_fleet: Fleet) -> None:
    """Type the tag, enter (to Cancel), tab (to Deploy), enter: all keys sent in one burst."""
    app = demo_fleet.app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: audited(app))
        app.fleet_screen.table.move_to_key("staging/explorer")
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, DeployScreen))
        field = app.screen.query_one("#deploy-image", Input)
        field.value = f"{EXPLORER}:"
        await pilot.press(*"20260901-5", "enter", "tab", "enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, DeployScreen))
        await wait_for(pilot, lambda: not app.engines, timeout=20)
    sent = demo_fleet.thread.call(demo_fleet.instance("staging").deploy_requests)
    assert sent == [("explorer", f"{EXPLORER}:20260901-5")]


async def test_one_login_per_wrong_password_however_often_the_operator_refreshes(
    demo_fleet: Fleet,
) -> None:
    """graniteflats' vault entry holds an old password. CapRover locks every administrator
    out after 5 failures in 30 s, so the session tries it once, not on every refresh."""
    app = demo_fleet.app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: audited(app))
        for _ in range(3):
            await pilot.press("r")
            await wait_for(pilot, lambda: audited(app))
        await pilot.press("R")  # retry the failed ones: still no second attempt
        await wait_for(pilot, lambda: audited(app))
        row = app.fleet.rows["graniteflats/\x00"]
        assert row.instance_error and "wrong password" in row.instance_error
    assert demo_fleet.thread.call(demo_fleet.instance("graniteflats").login_attempts) == 1


async def test_refresh_says_it_is_auditing(demo_fleet: Fleet) -> None:
    app = demo_fleet.app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: audited(app))
        def header() -> str:
            return str(app.screen.query_one("#fleet-header", Static).render())

        for instance in demo_fleet.instances:
            # Each answer takes a second: the header is read while the audit surely runs,
            # however late the next repaint comes on a loaded machine.
            instance.latency_seconds = 1.0
        await pilot.press("r")
        await wait_for(pilot, lambda: "auditing 12 instances…" in header())
        assert app.auditing
        await wait_for(pilot, lambda: audited(app) and "auditing" not in header())


async def test_quit_mid_deploy_reports_every_row_and_exits_1(tmp_path: Path) -> None:
    with start_fleet(tmp_path, fast_demo_instances()) as fleet:
        fleet.thread.hold_builds()  # the build is still running when the operator quits
        app = fleet.app()
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: audited(app))
            await deploy_from_dialog(pilot, app, f"{EXPLORER}:20260901-1", "staging/explorer")
            await wait_for(pilot, lambda: any(
                row.deploy is not None and row.deploy.state is RowState.BUILDING
                for row in app.fleet.rows.values()))
            await pilot.press("q")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.click("#yes")
            await wait_for(pilot, lambda: not app.is_running)
        fleet.thread.release_builds()
        assert app.return_code == 1
        assert app.exit_report[0].endswith(
            "staging / explorer: cancelled (interrupted while building: what the server "
            "started goes on there; gc-tui log --reconcile settles it)"
        )


async def test_a_lost_terminal_stops_runs_and_exits_129(tmp_path: Path) -> None:
    with start_fleet(tmp_path, fast_demo_instances()) as fleet:
        fleet.thread.hold_builds()
        app = fleet.app()
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: audited(app))
            await deploy_from_dialog(pilot, app, f"{EXPLORER}:20260901-1", "staging/explorer")
            await wait_for(pilot, lambda: bool(app.engines))
            app.terminal_gone()  # what SIGHUP and the TTY watchdog call
            await wait_for(pilot, lambda: not app.is_running)
        fleet.thread.release_builds()
        assert app.return_code == 129
        assert any("staging / explorer: cancelled" in line for line in app.exit_report)


async def test_a_plan_the_servers_moved_past_while_the_dialog_was_open_is_not_sent(
    demo_fleet: Fleet,
) -> None:
    # Review (helper): the dialog plans from the audits it opened with; if one comes in
    # meanwhile showing the app changed (a run ended, a colleague deployed), the plan's
    # 'old -> new' is no longer true, and nothing may be sent on its word.
    from dataclasses import replace

    app = demo_fleet.app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: audited(app))
        app.fleet_screen.table.move_to_key("staging/explorer")
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, DeployScreen))
        app.screen.query_one("#deploy-image", Input).value = f"{EXPLORER}:20260901-7"
        await pilot.pause()
        staging = app.fleet.audits["staging"]
        moved = tuple(replace(a, deployed_version=a.deployed_version + 1)
                      if a.name == "explorer" else a for a in staging.apps)
        app.fleet.apply_audit(replace(staging, apps=moved))  # as a new audit would
        await pilot.click("#deploy")
        await wait_for(pilot, lambda: not isinstance(app.screen, DeployScreen))
        await pilot.pause()
        assert not app.engines
    assert demo_fleet.thread.call(demo_fleet.instance("staging").deploy_requests) == []
