"""The operator's stories, driven through the real app against fake servers over loopback."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Button, Input, Static

from gc_tui.core.engine import RowState
from gc_tui.core.model import InstanceStatus
from gc_tui.core.secret import Secret
from gc_tui.tui.app import GcTuiApp
from gc_tui.tui.fleet_rows import RowKind, instance_row_key
from gc_tui.tui.screens.confirm import ConfirmScreen
from gc_tui.tui.screens.deploy import DeployScreen
from gc_tui.tui.screens.detail import DetailScreen
from gc_tui.tui.screens.fleet import FleetScreen
from gc_tui.tui.screens.unlock import UnlockScreen
from tests.tui.harness import SIZE, Fleet, audited, deploy_from_dialog, wait_for
from tests.vaults import DEFAULT_PASSWORD

EXPLORER = "communityfirst/guardianconnector-explorer"


async def set_filter(pilot: Pilot[Any], text: str) -> None:
    screen = pilot.app.screen
    assert isinstance(screen, FleetScreen)
    await pilot.press("slash")
    screen.query_one("#filter", Input).value = text
    await pilot.press("enter")
    await pilot.pause()


def visible(app: GcTuiApp) -> list[str]:
    return app.fleet_screen.table.visible_keys()


class TestUnlock:
    """A wrong password leaves the operator on the unlock screen, focus on the password."""

    async def test_wrong_then_right_password(self, demo_fleet: Fleet) -> None:
        app = demo_fleet.app(unlock=False)
        async with app.run_test(size=SIZE) as pilot:
            assert isinstance(app.screen, UnlockScreen)
            password = app.screen.query_one("#password", Input)
            assert password.has_focus and password.password
            password.value = "not the password"
            await pilot.press("enter")
            await wait_for(pilot, lambda: app.screen.query_one("#unlock-error", Static).display)
            error = str(app.screen.query_one("#unlock-error", Static).render())
            assert "Wrong password" in error
            assert "not the password" not in error
            assert password.has_focus and password.value == ""
            password.value = DEFAULT_PASSWORD
            await pilot.press("enter")
            await wait_for(pilot, lambda: audited(app))
            assert isinstance(app.screen, FleetScreen)
            assert len(visible(app)) == app.fleet.counts().visible > 100

    async def test_not_a_vault(self, demo_fleet: Fleet, tmp_path: Path) -> None:
        bogus = tmp_path / "notes.kdbx"
        bogus.write_text("just some text\n")
        app = demo_fleet.app(unlock=False, vault=bogus)
        async with app.run_test(size=SIZE) as pilot:
            app.screen.query_one("#password", Input).value = "whatever"
            await pilot.press("enter")
            await wait_for(pilot, lambda: app.screen.query_one("#unlock-error", Static).display)
            error = str(app.screen.query_one("#unlock-error", Static).render())
            assert "KeePass" in error or "damaged" in error
            assert isinstance(app.screen, UnlockScreen)


class TestFleetRows:
    async def test_rows_arrive_with_failed_instances_as_one_row(self, demo_fleet: Fleet) -> None:
        app = demo_fleet.app()
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: audited(app))
            rows = app.fleet.rows
            unreachable = rows[instance_row_key("fernridge")]
            assert unreachable.kind is RowKind.INSTANCE
            assert unreachable.instance_status is InstanceStatus.UNREACHABLE
            assert unreachable.status.word == "unreachable"
            assert [key for key in rows if key.startswith("fernridge/")] == [unreachable.key]
            auth = rows[instance_row_key("graniteflats")]
            assert auth.instance_status is InstanceStatus.AUTH_FAILED
            assert auth.instance_error
            manual = rows["emberfalls/redis"]
            assert manual.manual and manual.status.word == "manual"
            counts = app.fleet.counts()
            assert (counts.ok, counts.failed, counts.manual) == (10, 2, 7)
            header = str(app.screen.query_one("#fleet-header", Static).render())
            assert "10 ok" in header and "2 failed" in header and "7 manual" in header


class TestFilter:
    async def test_each_column_and_negation(self, demo_fleet: Fleet) -> None:
        app = demo_fleet.app()
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: audited(app))
            total = len(visible(app))
            await set_filter(pilot, "instance:^staging$")
            assert visible(app) and all(k.startswith("staging/") for k in visible(app))
            await set_filter(pilot, "app:^explorer$")
            assert len(visible(app)) == 10
            await set_filter(pilot, "image:img-captain")
            assert len(visible(app)) == 7
            await set_filter(pilot, "status:manual")
            assert len(visible(app)) == 7
            await set_filter(pilot, "status:unreachable")
            assert visible(app) == [instance_row_key("fernridge")]
            await set_filter(pilot, "!status:ok")
            assert all(app.fleet.rows[k].status.word != "ok" for k in visible(app))
            assert len(visible(app)) == 7 + 2 + sum(
                1 for r in app.fleet.rows.values() if r.status.word not in ("ok", "manual")
                and r.kind is RowKind.APP
            )
            await set_filter(pilot, "postgres !instance:staging")
            assert visible(app) and all(
                "postgres" in k and not k.startswith("staging/") for k in visible(app)
            )
            await set_filter(pilot, "[unclosed")  # not a regex: searched as text, no crash
            assert visible(app) == []
            header = str(app.screen.query_one("#fleet-header", Static).render())
            assert "[unclosed" in header and "plain text" in header
            await pilot.press("escape")
            await pilot.pause()
            assert len(visible(app)) == total

    async def test_keys_typed_right_after_the_slash_go_to_the_filter(
        self, demo_fleet: Fleet
    ) -> None:
        """As over SSH: '/', then the text, all in one packet. None of it may act as a key of
        the table (a marks every row, p pins, e exports...)."""
        from textual import events

        app = demo_fleet.app()
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: audited(app))
            for key, char in [("slash", "/"), *[(c, c) for c in "app:explorer"]]:
                if char == ":":
                    key = "colon"
                app.post_message(events.Key(key, char))  # queued at once, none awaited
            assert isinstance(app.screen, FleetScreen)
            field = app.screen.query_one("#filter", Input)
            # Waiting on what the screen shows, never on the clock: with the bug, the keys
            # reach the table instead and this wait fails.
            await wait_for(pilot, lambda: field.value == "app:explorer")
            assert app.fleet.marks == set()
            await pilot.press("s", "backspace")  # typed into the focused field: once each
            assert field.value == "app:explorer"
            app.post_message(events.Key("enter", "\r"))
            await wait_for(pilot, lambda: app.focused is app.fleet_screen.table)
            assert visible(app) and all(k.endswith("/explorer") for k in visible(app))
            await pilot.press("space")  # the table's keys are the table's again
            assert len(app.fleet.marks) == 1
            for key, char in [("slash", "/"), *[(c, c) for c in "redis"]]:
                app.post_message(events.Key(key, char))
            await wait_for(pilot, lambda: field.value == "redis")  # replaces the last filter

    async def test_a_new_filter_puts_the_cursor_on_the_first_match(
        self, demo_fleet: Fleet
    ) -> None:
        app = demo_fleet.app()
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: audited(app))
            table = app.fleet_screen.table
            table.move_to_key("bluecanyon/explorer")
            await set_filter(pilot, "explorer")
            assert table.cursor_key() == visible(app)[0] == "staging/explorer"
            table.move_to_key("bluecanyon/explorer")
            await pilot.press("escape")
            await pilot.pause()
            assert table.cursor_key() == visible(app)[0] == "staging/comapeo"


class TestMarks:
    async def test_mark_mark_all_invert_unmark(self, demo_fleet: Fleet) -> None:
        app = demo_fleet.app()
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: audited(app))
            table = app.fleet_screen.table
            first = table.cursor_key()
            assert first is not None
            await pilot.press("space")
            await pilot.pause()
            assert app.fleet.marks == {first}
            assert table.cursor_key() != first  # moved down
            assert str(table.get_cell(first, "mark")) == "●"
            await set_filter(pilot, "app:^explorer$")
            await pilot.press("a")
            await pilot.pause()
            explorers = set(visible(app))
            assert app.fleet.marks == explorers | {first}
            await pilot.press("i")
            await pilot.pause()
            assert app.fleet.marks == {first}  # hidden marks are kept
            await pilot.press("u")
            await pilot.pause()
            assert app.fleet.marks == set()
            header = str(app.screen.query_one("#fleet-header", Static).render())
            assert "0 marked" in header


async def mark_keys(pilot: Pilot[Any], app: GcTuiApp, *keys: str) -> None:
    for key in keys:
        app.fleet_screen.table.move_to_key(key)
        await pilot.press("space")
    await pilot.pause()


async def open_deploy_for_explorers(pilot: Pilot[Any], app: GcTuiApp) -> DeployScreen:
    await set_filter(pilot, "app:^explorer$ !instance:^heronmarsh$")
    await pilot.press("a", "d")
    await wait_for(pilot, lambda: isinstance(app.screen, DeployScreen))
    screen = app.screen
    assert isinstance(screen, DeployScreen)
    return screen


class TestDeploy:
    async def test_deploy_marked_rows_reaches_final_state(self, demo_fleet: Fleet) -> None:
        app = demo_fleet.app()
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: audited(app))
            dialog = await open_deploy_for_explorers(pilot, app)
            image_input = dialog.query_one("#deploy-image", Input)
            assert image_input.value == f"{EXPLORER}:"
            assert image_input.has_focus  # the tag is still to type
            assert dialog.query_one("#deploy", Button).disabled
            await pilot.press(*"20260901-1000")
            assert image_input.value == f"{EXPLORER}:20260901-1000"
            await pilot.press("enter")  # leaves the field for Cancel, deploys nothing
            assert dialog.query_one("#cancel", Button).has_focus and not app.engines
            plan = dialog.plan
            assert plan is not None and len(plan.rows) == 9
            assert not dialog.query_one("#deploy", Button).disabled
            await pilot.click("#deploy")
            await wait_for(pilot, lambda: not app.engines and audited(app), timeout=20)
            for row in plan.rows:
                deploy = app.fleet.rows[row.key].deploy
                assert deploy is not None and deploy.state is RowState.DONE, row.key
                # re-read after the deploy: the tag column shows the truth
                assert app.fleet.rows[row.key].image == row.to_image
            for name in plan.instances:
                sent = demo_fleet.thread.call(demo_fleet.instance(name).deploy_requests)
                assert sent == [(r.app, r.to_image) for r in plan.rows if r.instance == name]
            assert demo_fleet.thread.call(demo_fleet.instance("heronmarsh").deploy_requests) == []

    async def test_failing_build_shows_reason_and_log(self, demo_fleet: Fleet) -> None:
        app = demo_fleet.app()
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: audited(app))
            await deploy_from_dialog(pilot, app, f"{EXPLORER}:missing-1", "staging/explorer")
            await wait_for(pilot, lambda: not app.engines, timeout=20)
            await wait_for(pilot, lambda: (deploy := app.fleet.rows["staging/explorer"].deploy)
                           is not None and deploy.state.final)
            row = app.fleet.rows["staging/explorer"]
            assert row.deploy is not None and row.deploy.state is RowState.FAILED
            assert row.deploy.error
            assert row.status.word == "failed"
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen))
            body = str(app.screen.query_one("#detail-body", Static).render())
            assert row.deploy.error in body
            assert "Build log" in body
            await pilot.press("escape")
            # R marks the failed row for a retry; d reopens the dialog with the same image
            await pilot.press("R")
            await pilot.pause()
            assert app.fleet.marks == {"staging/explorer"}
            await pilot.press("d")
            await wait_for(pilot, lambda: isinstance(app.screen, DeployScreen))
            assert app.screen.query_one("#deploy-image", Input).value == f"{EXPLORER}:missing-1"

    async def test_read_only_offers_no_deploy_button(self, demo_fleet: Fleet) -> None:
        app = demo_fleet.app(read_only=True)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: audited(app))
            dialog = await open_deploy_for_explorers(pilot, app)
            dialog.query_one("#deploy-image", Input).value = f"{EXPLORER}:20260901-1000"
            await pilot.pause()
            assert not dialog.query("#deploy")
            reason = str(dialog.query_one("#read-only-reason", Static).render())
            assert "read-only" in reason
            await pilot.press("escape")
            await pilot.pause()
            assert not app.engines
        for instance in demo_fleet.instances:
            assert demo_fleet.thread.call(demo_fleet.instance(instance.name).deploy_requests) == []

    async def test_more_than_ten_rows_needs_the_count(self, demo_fleet: Fleet) -> None:
        app = demo_fleet.app()
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: audited(app))
            await set_filter(pilot, "app:^windmill")
            await pilot.press("a", "d")
            await wait_for(pilot, lambda: isinstance(app.screen, DeployScreen))
            dialog = app.screen
            assert isinstance(dialog, DeployScreen)
            windmill = "ghcr.io/windmill-labs/windmill:1.800.0"
            dialog.query_one("#deploy-image", Input).value = windmill
            await pilot.pause()
            assert dialog.plan is not None and len(dialog.plan.rows) > 10
            deploy = dialog.query_one("#deploy", Button)
            assert deploy.disabled
            dialog.query_one("#deploy-count", Input).value = str(len(dialog.plan.rows) - 1)
            await pilot.pause()
            assert deploy.disabled
            dialog.query_one("#deploy-count", Input).value = str(len(dialog.plan.rows))
            await pilot.pause()
            assert not deploy.disabled
            await pilot.press("escape")

    async def test_an_instance_is_read_again_as_soon_as_its_rows_end(self, tmp_path: Path) -> None:
        """A row that is done shows its new image while other instances still build."""
        from tests.tui.harness import fast_demo_instances, start_fleet

        instances = fast_demo_instances()
        slow = next(i for i in instances if i.name == "alderbrook")
        slow.build_seconds = 4.0
        with start_fleet(tmp_path, instances) as fleet:
            app = fleet.app()
            async with app.run_test(size=SIZE) as pilot:
                await wait_for(pilot, lambda: audited(app))
                await mark_keys(pilot, app, "staging/explorer", "alderbrook/explorer")
                new = f"{EXPLORER}:20260901-7"
                await deploy_from_dialog(pilot, app, new)
                def image(key: str) -> str | None:
                    return app.fleet.rows[key].image

                await wait_for(pilot, lambda: image("staging/explorer") == new, timeout=10)
                slow_row = app.fleet.rows["alderbrook/explorer"]
                assert app.engines and slow_row.deploy is not None
                assert not slow_row.deploy.state.final and slow_row.image != new
                done = app.fleet.rows["staging/explorer"].deploy
                assert done is not None and done.state is RowState.DONE
                await wait_for(pilot, lambda: not app.engines and audited(app), timeout=20)
                assert image("alderbrook/explorer") == new

    async def test_quit_while_deploying_asks(self, demo_fleet: Fleet) -> None:
        from dataclasses import replace

        from tests.tui.harness import FAST_TIMING

        # The build is held until the app has quit, and the client's own build deadline is
        # out of reach, so the deploy is still running at every step however slow the run.
        demo_fleet.thread.hold_builds()
        staging = demo_fleet.instance("staging")
        app = demo_fleet.app(deploy_timing=replace(FAST_TIMING, build_deadline=3600.0))
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: audited(app))
            await deploy_from_dialog(pilot, app, f"{EXPLORER}:20260901-1", "staging/explorer")
            await demo_fleet.thread.wait_until_async(
                lambda: staging.held_builds() == ["explorer"]
            )
            await wait_for(pilot, lambda: bool(app.fleet.deploying_keys()))
            await pilot.press("q")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            assert app.screen.query_one("#no", Button).has_focus
            await pilot.press("escape")  # keep running
            await pilot.pause()
            assert app.is_running and app.engines
            await pilot.press("q")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.click("#yes")
            await pilot.pause()
        assert not app.is_running
        demo_fleet.thread.release_builds()


class TestExport:
    async def test_export_visible_rows_private_csv(self, demo_fleet: Fleet, tmp_path: Path) -> None:
        app = demo_fleet.app()
        target = tmp_path / "out.csv"
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: audited(app))
            await set_filter(pilot, "instance:^staging$")
            await pilot.press("e")
            await pilot.pause()
            app.screen.query_one("#export-path", Input).value = str(target)
            await pilot.click("#export")
            await pilot.pause()
        lines = target.read_text().splitlines()
        assert lines[0].startswith("instance,app,image")
        assert len(lines) == 1 + 12 and all(line.startswith("staging,") for line in lines[1:])
        assert stat.S_IMODE(target.stat().st_mode) == 0o600


class TestIdleLock:
    async def test_lock_drops_everything_and_asks_again(self, demo_fleet: Fleet) -> None:
        # The idle clock is ours to move: a loaded machine must not lock before the audit ends.
        now = [0.0]
        app = GcTuiApp(demo_fleet.settings(password=Secret(DEFAULT_PASSWORD),
                                           lock_after_minutes=1 / 60),
                       clock=lambda: now[0])
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: audited(app))
            await pilot.press("space")
            await pilot.pause(0.3)
            assert not isinstance(app.screen, UnlockScreen)
            now[0] += 2.0
            await wait_for(pilot, lambda: isinstance(app.screen, UnlockScreen), timeout=5)
            assert app.ops.session is None and app.instances == []
            assert app.fleet.rows == {} and app.fleet.marks == set()
            assert app.fleet_screen.table.row_count == 0
            notice = str(app.screen.query_one("#unlock-notice", Static).render())
            assert "Locked" in notice
            assert app.screen.query_one("#password", Input).value == ""
            # unlocking again needs the password: nothing was kept to do it automatically
            await pilot.pause(0.3)
            assert isinstance(app.screen, UnlockScreen)
            app.screen.query_one("#password", Input).value = DEFAULT_PASSWORD
            await pilot.press("enter")
            await wait_for(pilot, lambda: audited(app))

    async def test_locking_while_the_audit_is_still_answering(self, tmp_path: Path) -> None:
        """Answers that arrive after the lock land nowhere: no crash, nothing shown."""
        from tests.tui.harness import fast_demo_instances, start_fleet

        with start_fleet(tmp_path, fast_demo_instances(latency_seconds=0.4)) as fleet:
            now = [0.0]
            app = GcTuiApp(fleet.settings(password=Secret(DEFAULT_PASSWORD),
                                          lock_after_minutes=1 / 60),
                           clock=lambda: now[0])
            async with app.run_test(size=SIZE) as pilot:
                await wait_for(pilot, lambda: app.ops.session is not None)
                assert not audited(app)
                now[0] += 2.0
                await wait_for(pilot, lambda: isinstance(app.screen, UnlockScreen), timeout=5)
                await pilot.pause(1.0)  # the answers that were on their way have come and gone
                assert isinstance(app.screen, UnlockScreen)
                assert app.fleet.rows == {} and app.fleet_screen.table.row_count == 0
