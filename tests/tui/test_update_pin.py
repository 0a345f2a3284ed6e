"""U (update CapRover), p (pin targets) and drift, driven through the real app and fake servers."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.app import App
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Button, Input, Static

from gc_tui.core.drift import DriftState
from gc_tui.core.engine import RowState
from gc_tui.core.operations import RowChanged
from gc_tui.core.plan import Plan, PlanRow
from gc_tui.core.targets import load_targets, save_targets, targets_from_mapping
from gc_tui.core.update import (
    CAPROVER_APP,
    UPDATE_ACTION,
    UpdateTiming,
    caprover_image,
    caprover_version,
)
from gc_tui.demo.catalog import demo_fleet_data
from gc_tui.settings import Settings
from gc_tui.tui.app import GcTuiApp
from gc_tui.tui.messages import OpsMessage
from gc_tui.tui.screens.confirm import ConfirmScreen
from gc_tui.tui.screens.deploy import DeployScreen
from gc_tui.tui.screens.detail import DetailScreen
from gc_tui.tui.screens.update import RESTART_WARNING, UpdateScreen
from tests.tui.harness import (
    SIZE,
    Fleet,
    audited,
    deploy_from_dialog,
    fast_demo_instances,
    start_fleet,
    wait_for,
)

FAST_UPDATE = UpdateTiming(poll_interval=0.05, deadline=20.0, busy_retry=0.05)
FAST_RESTART = {"update_pull_seconds": 0.05, "restart_seconds": 0.2, "not_ready_seconds": 0.2}
EXPLORER = "communityfirst/guardianconnector-explorer"
# emberfalls runs CapRover 1.13.1; every other instance that answers runs 1.15.3, the latest.
OLD = "emberfalls"


def notices(app: App[Any]) -> list[str]:
    return [str(notification.message) for notification in app._notifications]


def text_of(screen: Screen[Any], selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


def drift_state(app: GcTuiApp, key: str) -> DriftState | None:
    drift = app.fleet.rows[key].drift
    return None if drift is None else drift.state


@pytest.fixture
def update_fleet(tmp_path: Path) -> Iterator[Fleet]:
    with start_fleet(tmp_path, fast_demo_instances(**FAST_RESTART)) as fleet:
        yield fleet


async def mark(pilot: Pilot[Any], *keys: str) -> None:
    app = pilot.app
    assert isinstance(app, GcTuiApp)
    for key in keys:
        app.fleet_screen.table.move_to_key(key)
        await pilot.press("space")
    await pilot.pause()


class TestCapRoverUpdate:
    """U updates exactly what the dialog listed, shows it live, and re-reads the version."""

    async def test_marked_instance_is_updated_as_planned(self, update_fleet: Fleet) -> None:
        seen: list[Any] = []
        app = update_fleet.app(update_timing=FAST_UPDATE)
        async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
            await wait_for(pilot, lambda: audited(app))
            table = app.fleet_screen.table
            assert str(table.get_cell(f"{OLD}/explorer", "caprover")) == "1.13.1 ↑1.15.3"
            assert str(table.get_cell("staging/explorer", "caprover")) == "1.15.3"
            await mark(pilot, "staging/explorer", f"{OLD}/explorer", f"{OLD}/superset")
            await pilot.press("U")
            await wait_for(pilot, lambda: isinstance(app.screen, UpdateScreen))
            dialog = app.screen
            assert isinstance(dialog, UpdateScreen)
            assert dialog.query_one("#cancel", Button).has_focus
            assert [
                (r.instance, caprover_version(r.from_image), caprover_version(r.to_image))
                for r in dialog.plan.rows
            ] == [(OLD, "1.13.1", "1.15.3")]
            assert [r.instance for r in dialog.plan.skipped] == ["staging"]
            listed = text_of(dialog, "#update-rows")
            assert "1.13.1 → 1.15.3" in listed and "already on the latest version" in listed
            assert text_of(dialog, "#update-warning") == RESTART_WARNING
            plan = dialog.plan
            await pilot.click("#update")
            await wait_for(pilot, lambda: not app.engines and audited(app), timeout=20)
            sent = update_fleet.thread.call(update_fleet.instance(OLD).update_requests)
            assert sent == [caprover_version(row.to_image) for row in plan.rows]
            for instance in update_fleet.instances:
                if instance.name != OLD:
                    assert update_fleet.thread.call(instance.update_requests) == []
            states = [
                m.event.event.state for m in seen
                if isinstance(m, OpsMessage) and isinstance(m.event, RowChanged)
                and m.event.event.action == UPDATE_ACTION
            ]
            assert states == [RowState.PLANNED, RowState.SENDING, RowState.SENT,
                              RowState.RESTARTING, RowState.VERIFYING, RowState.DONE]
            # re-audited: the new version, no arrow, and the status is the app's own again
            row = app.fleet.rows[f"{OLD}/explorer"]
            assert row.version is not None and row.version.current == "1.15.3"
            assert str(table.get_cell(f"{OLD}/explorer", "caprover")) == "1.15.3"
            assert row.status.word == "ok"
            assert any(f"CapRover updated on {OLD}" in notice for notice in notices(app))

    async def test_instance_deploying_is_refused_with_the_reason(self, tmp_path: Path) -> None:
        instances = fast_demo_instances(**FAST_RESTART)
        for instance in instances:
            instance.build_seconds = 3.0
        with start_fleet(tmp_path, instances) as fleet:
            app = fleet.app(update_timing=FAST_UPDATE)
            async with app.run_test(size=SIZE) as pilot:
                await wait_for(pilot, lambda: audited(app))
                await deploy_from_dialog(pilot, app, f"{EXPLORER}:20260901-1", f"{OLD}/explorer")
                await wait_for(pilot, lambda: bool(app.fleet.deploying_keys()))
                await pilot.press("U")
                await wait_for(pilot, lambda: isinstance(app.screen, UpdateScreen))
                dialog = app.screen
                assert isinstance(dialog, UpdateScreen)
                assert dialog.plan.rows == ()
                (skipped,) = dialog.plan.skipped
                assert skipped.instance == OLD and "app deploys are running" in skipped.reason
                assert "app deploys are running" in text_of(dialog, "#update-rows")
                assert not dialog.query("#update")  # nothing to confirm
                await pilot.press("escape")
                await wait_for(pilot, lambda: not app.engines, timeout=20)
            assert fleet.thread.call(fleet.instance(OLD).update_requests) == []

    async def test_deploy_and_quit_while_updating(self, tmp_path: Path) -> None:
        slow_restart = {**FAST_RESTART, "restart_seconds": 2.0}
        with start_fleet(tmp_path, fast_demo_instances(**slow_restart)) as fleet:
            app = fleet.app(update_timing=FAST_UPDATE)
            async with app.run_test(size=SIZE) as pilot:
                await wait_for(pilot, lambda: audited(app))
                app.fleet_screen.table.move_to_key(f"{OLD}/explorer")
                await pilot.press("U")
                await wait_for(pilot, lambda: isinstance(app.screen, UpdateScreen))
                await pilot.click("#update")
                table = app.fleet_screen.table
                await wait_for(pilot, lambda: str(table.get_cell(f"{OLD}/explorer", "status"))
                               == "caprover: restarting")
                assert str(table.get_cell(f"{OLD}/explorer", "caprover")) == "1.13.1→1.15.3"
                assert "CapRover updating on 1" in text_of(app.screen, "#fleet-header")
                # a deploy on the instance being updated: the dialog says so up front
                await pilot.press("d")
                await wait_for(pilot, lambda: isinstance(app.screen, DeployScreen))
                dialog = app.screen
                assert isinstance(dialog, DeployScreen)
                dialog.query_one("#deploy-image", Input).value = f"{EXPLORER}:20260901-1"
                await pilot.pause()
                assert dialog.plan is not None and dialog.plan.rows == ()
                assert "busy" in dialog.plan.skipped[0].reason
                assert "1 skipped: 1 busy" in text_of(dialog, "#plan-summary")
                rows = text_of(dialog, "#plan-rows")
                assert f"Not deployed on {OLD}: its CapRover update is running" in rows
                assert dialog.query_one("#deploy", Button).disabled
                await pilot.press("escape")
                await pilot.pause()
                # q asks while an update runs
                await pilot.press("q")
                await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
                assert f"CapRover is updating on {OLD}" in text_of(app.screen, ".dialog-body")
                assert app.screen.query_one("#no", Button).has_focus
                await pilot.press("escape")
                await wait_for(pilot, lambda: not app.engines, timeout=20)
                assert app.is_running
            assert fleet.thread.call(fleet.instance(OLD).deploy_requests) == []
            assert fleet.thread.call(fleet.instance(OLD).update_requests) == ["1.15.3"]

    async def test_read_only_refuses(self, update_fleet: Fleet) -> None:
        app = update_fleet.app(read_only=True, update_timing=FAST_UPDATE)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: audited(app))
            app.fleet_screen.table.move_to_key(f"{OLD}/explorer")
            await pilot.press("U")
            await wait_for(pilot, lambda: isinstance(app.screen, UpdateScreen))
            dialog = app.screen
            assert isinstance(dialog, UpdateScreen)
            assert not dialog.query("#update")
            assert "read-only" in text_of(dialog, "#read-only-reason")
            assert "read-only" in text_of(dialog, "#update-rows")
            app.ops.start_update(dialog.plan)  # even called directly, nothing is sent
            await pilot.press("escape")
            await pilot.pause(0.3)
            assert not app.engines
        assert update_fleet.thread.call(update_fleet.instance(OLD).update_requests) == []


def write_demo_targets(path: Path) -> Path:
    save_targets(path, targets_from_mapping(demo_fleet_data()["target_images"]))
    return path


class TestPin:
    """p writes what the dialog listed, and the drift column follows at once."""

    async def test_pin_writes_file_and_drift_changes(self, demo_fleet: Fleet,
                                                    tmp_path: Path) -> None:
        targets = write_demo_targets(tmp_path / "targets.toml")
        app = demo_fleet.app(targets_path=targets)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: audited(app))
            table = app.fleet_screen.table
            assert str(table.get_cell("bluecanyon/explorer", "drift")) == "stale"
            assert str(table.get_cell("staging/explorer", "drift")) == "current"
            await mark(pilot, "bluecanyon/explorer", "bluecanyon/postgres")
            await pilot.press("p")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            body = text_of(app.screen, ".dialog-body")
            assert (f"explorer: {EXPLORER}:20260731-948 → {EXPLORER}:20260727-932  OLDER"
                    in body)
            assert "Goes back: explorer would get a target OLDER" in body
            assert "postgres" in body and "held repository" in body
            assert app.screen.query_one("#no", Button).has_focus
            await pilot.click("#yes")
            await pilot.pause()
            assert load_targets(targets).images["explorer"] == f"{EXPLORER}:20260727-932"
            assert "postgres" not in load_targets(targets).images
            assert str(table.get_cell("bluecanyon/explorer", "drift")) == "current"
            assert str(table.get_cell("staging/explorer", "drift")) == "ahead"

    async def test_two_images_of_one_app_are_refused(self, demo_fleet: Fleet,
                                                    tmp_path: Path) -> None:
        targets = write_demo_targets(tmp_path / "targets.toml")
        before = targets.read_bytes()
        app = demo_fleet.app(targets_path=targets)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: audited(app))
            await mark(pilot, "staging/explorer", "bluecanyon/explorer")
            await pilot.press("p")
            await pilot.pause()
            assert not isinstance(app.screen, ConfirmScreen)
            (refusal,) = [n for n in notices(app) if n.startswith("Not pinned")]
            assert f"{EXPLORER}:20260731-948 on staging" in refusal
            assert f"{EXPLORER}:20260727-932 on bluecanyon" in refusal
        assert targets.read_bytes() == before

    async def test_without_a_targets_file_nothing_happens(self, demo_fleet: Fleet) -> None:
        app = demo_fleet.app()
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: audited(app))
            await pilot.press("p")
            await pilot.pause()
            assert not isinstance(app.screen, ConfirmScreen)
            assert any("No targets file" in n for n in notices(app))

    async def test_first_pin_creates_the_file_and_the_drift_column(self, demo_fleet: Fleet,
                                                                  tmp_path: Path) -> None:
        targets = tmp_path / "new-targets.toml"
        app = demo_fleet.app(targets_path=targets)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: audited(app))
            table = app.fleet_screen.table
            assert "drift" not in table.widths
            table.move_to_key("staging/explorer")
            await pilot.press("p")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            assert "(no target yet)" in text_of(app.screen, ".dialog-body")
            await pilot.click("#yes")
            await pilot.pause()
            assert dict(load_targets(targets).images) == {"explorer": f"{EXPLORER}:20260731-948"}
            assert "drift" in table.widths
            assert table.cursor_key() == "staging/explorer"
            assert str(table.get_cell("staging/explorer", "drift")) == "current"
            assert str(table.get_cell("bluecanyon/explorer", "drift")) == "stale"
            assert str(table.get_cell("bluecanyon/superset", "drift")) == "unmanaged"


class TestDrift:
    async def test_filter_t_and_split_groups(self, demo_fleet: Fleet, tmp_path: Path) -> None:
        targets = write_demo_targets(tmp_path / "targets.toml")
        app = demo_fleet.app(targets_path=targets)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: audited(app))
            screen = app.fleet_screen
            await pilot.press("slash")
            screen.query_one("#filter", Input).value = "status:stale app:^explorer$"
            await pilot.press("enter")
            await pilot.pause()
            stale = screen.table.visible_keys()
            assert stale and all(drift_state(app, k) == "stale" for k in stale)
            assert "bluecanyon/explorer" in stale and "staging/explorer" not in stale
            screen.query_one("#filter", Input).value = "app:^explorer$"
            screen.apply_filter()
            await pilot.press("t")
            await pilot.pause()
            off_target = {
                key for key in screen.table.visible_keys()
                if drift_state(app, key) not in ("current", "held")
            }
            assert off_target and "staging/explorer" not in off_target
            assert app.fleet.marks == off_target
            await pilot.press("escape")
            screen.table.move_to_key("heronmarsh/superset")
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen))
            body = text_of(app.screen, "#detail-body")
            assert "Split group" in body and "superset-worker on" in body
            assert "6.1.0_20260729-2019" in body


class TestCli:
    def test_tui_gets_allow_slow_and_update_timing(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        from gc_tui import cli
        from gc_tui.tui import app as tui_app

        built: list[Any] = []

        class NotRun:
            exit_report: list[str] = []
            return_code = 0

            def run(self) -> None:
                pass

        def fake_make_app(settings: Settings) -> NotRun:
            built.append(settings)
            return NotRun()

        monkeypatch.setattr(tui_app, "make_app", fake_make_app)
        timing = UpdateTiming(poll_interval=0.5)
        vault = tmp_path / "v.kdbx"
        vault.write_bytes(b"")
        base = Settings(update_timing=timing)
        class Terminal(io.StringIO):
            def isatty(self) -> bool:
                return True

        assert cli.run(["tui", "--vault", str(vault), "--allow-slow-vault"], base=base,
                       stdin=Terminal(), stdout=Terminal()) == 0
        assert cli.run(["tui", "--vault", str(vault)], stdin=Terminal(), stdout=Terminal()) == 0
        # Without a terminal it says so in one line instead of drawing into a pipe.
        err = io.StringIO()
        assert cli.run(["tui", "--vault", str(vault)], stdin=io.StringIO(),
                       stdout=io.StringIO(), stderr=err) == 2
        assert "the TUI needs a terminal" in err.getvalue() and len(built) == 2
        assert built[0].allow_slow_vault is True and built[0].update_timing == timing
        assert built[1].allow_slow_vault is False and built[1].update_timing == UpdateTiming()


def update_plan(names: list[str]) -> Plan:
    return Plan(
        tuple(
            PlanRow(name, CAPROVER_APP, caprover_image("1.14.0"), caprover_image("1.15.3") or "")
            for name in names
        ),
        (),
        UPDATE_ACTION,
    )


class TestBigUpdateNeedsTheCount:
    """Above CONFIRM_COUNT_ABOVE instances the Update button stays off until the count is
    typed, as in the deploy dialog; Enter in the field never updates by itself."""

    async def test_update_is_enabled_by_typing_the_count_only(self) -> None:
        from textual.app import App

        from gc_tui.core.plan import CONFIRM_COUNT_ABOVE
        count = CONFIRM_COUNT_ABOVE + 2
        plan = update_plan([f"gc-{n:02d}" for n in range(count)])
        results: list[object] = []

        class Host(App[None]):
            def on_mount(self) -> None:
                self.push_screen(UpdateScreen(plan), results.append)

        async with Host().run_test(size=SIZE) as pilot:
            screen = pilot.app.screen
            assert isinstance(screen, UpdateScreen)
            button = screen.query_one("#update", Button)
            field = screen.query_one("#update-count", Input)
            assert field.has_focus and button.disabled
            assert f"type {count} to enable Update" in str(
                screen.query_one(".count-label", Static).render()
            )
            await pilot.press(*str(count - 1), "enter")
            assert button.disabled and results == []
            assert screen.query_one("#cancel", Button).has_focus  # Enter moved on, no more
            field.value = str(count)
            await pilot.pause()
            assert not button.disabled
            button.press()
            await pilot.pause()
        assert results == [plan]

    async def test_a_small_update_needs_no_count(self) -> None:
        from textual.app import App

        plan = update_plan(["gc-01"])

        class Host(App[None]):
            def on_mount(self) -> None:
                self.push_screen(UpdateScreen(plan))

        async with Host().run_test(size=SIZE) as pilot:
            screen = pilot.app.screen
            assert not screen.query_one(".count-gate").display
            assert not screen.query_one("#update", Button).disabled
            assert screen.query_one("#cancel", Button).has_focus
