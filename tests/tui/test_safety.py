"""Server and vault text is shown literally; crashes print no secrets."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console
from textual import work

from gc_tui.demo.catalog import make_app as make_fake_app
from gc_tui.demo.instance import FakeInstance
from gc_tui.settings import Settings
from gc_tui.tui.app import GcTuiApp
from gc_tui.tui.screens.detail import DetailScreen
from tests.tui.harness import SIZE, audited, start_fleet, wait_for

HOSTILE_APPS = {
    "[bold]x[/bold]": "repo:[/latest]",
    "[@click=app.quit]": "nginx:1.25",
    "evil\x1b]0;title\x07name": "nginx:1.25\x1b[2J",
}


def hostile_instances() -> list[FakeInstance]:
    instance = FakeInstance(name="acme [prod]", password="pw-acme-1", build_seconds=0.1,
                            service_update_seconds=0.05)
    instance.apps = [
        make_fake_app(name, image, 1, instance_version="1.15.3", instance_name="acme",
                      env_secret="x")
        for name, image in HOSTILE_APPS.items()
    ]
    return [instance]


class TestLiteralText:
    """Markup, action links and escape sequences from a server are inert text."""

    async def test_hostile_names_are_shown_literally(self, tmp_path: Path) -> None:
        with start_fleet(tmp_path, hostile_instances(), demo=False) as fleet:
            app = fleet.app()
            async with app.run_test(size=SIZE) as pilot:
                await wait_for(pilot, lambda: audited(app))
                assert len(app.fleet.rows) == 3, app.fleet.rows
                svg = app.export_screenshot()
                assert "acme&#160;[prod]" in svg
                assert "[bold]x[/bold]" in svg
                assert "[@click=app.quit]" in svg
                assert "repo" in svg and "[/latest]" in svg
                assert "\x1b" not in svg and "\x07" not in svg
                assert "evilname" in svg  # the escape sequence is gone, whole
                for key in list(app.fleet.rows):
                    app.fleet_screen.table.move_to_key(key)
                    await pilot.press("enter")
                    await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen))
                    detail = app.export_screenshot()
                    assert "\x1b" not in detail
                    await pilot.click("#detail-body", offset=(20, 0))  # no live @click link
                    await pilot.press("escape")
                    await pilot.pause()
                assert app.is_running
                # deploying to the hostile row goes through the dialog without a crash
                app.fleet_screen.table.move_to_key("acme [prod]/[bold]x[/bold]")
                await pilot.press("d")
                await pilot.pause()
                assert "[/latest]" in app.export_screenshot()
                await pilot.press("escape")


class CrashingApp(GcTuiApp):
    def on_ready(self) -> None:
        self.explode()

    @work(exit_on_error=True)
    async def explode(self) -> None:
        # Built at run time: the source lines a traceback shows must not hold the value.
        password = "-".join(["hunter2", "super", "secret"])
        token = {"x-captain-auth": "-".join(["eyJhbGciOi", "secret", "token"])}
        raise RuntimeError(f"failed with {password} and {token}")


class TestCrashReport:
    """A crash shows where it happened, never locals or exception messages."""

    async def test_crash_prints_no_secret(self) -> None:
        app = CrashingApp(Settings())
        output = io.StringIO()
        app.error_console = Console(file=output, width=120, force_terminal=False)
        try:
            async with app.run_test(size=SIZE) as pilot:
                await pilot.pause(0.2)
        except Exception:  # noqa: BLE001 - run_test re-raises the worker's failure
            pass
        if app._exit_renderables:
            app._print_error_renderables()
        text = output.getvalue()
        assert "explode" in text and "RuntimeError" in text
        assert "hunter2-super-secret" not in text
        assert "eyJhbGciOi-secret-token" not in text
        assert "message hidden" in text
