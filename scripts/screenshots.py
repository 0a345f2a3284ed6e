"""Render SVG screenshots of the TUI on the demo into screenshots/.

    .venv/bin/python scripts/screenshots.py [--out screenshots]

The world is the one `gc-tui demo` opens: the fake fleet, its registries (so NEWEST is
filled in), the targets file (so DRIFT shows) and the demo vault. The app is driven headless
by keys, as an operator would:

- at 120x40, the whole monthly round: unlock, the fleet, a filter, the deploy dialog, a
  deploy in progress, a failed row's detail, the CapRover update dialog, the matrix;
- at 80x24 and 200x50, the fleet, the deploy dialog and the matrix;
- at 120x40 under NO_COLOR, the fleet.

Every file is referenced from the README; tests/tui/test_screenshots_listed.py checks that.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from textual.pilot import Pilot
from textual.widgets import Input

from gc_tui.config import load_config
from gc_tui.core.deploy import DeployTiming
from gc_tui.core.secret import Secret
from gc_tui.demo.environment import DEMO_PASSWORD, DemoWorld, demo_world
from gc_tui.settings import Settings
from gc_tui.tui.app import GcTuiApp, make_app
from gc_tui.tui.screens.deploy import DeployScreen
from gc_tui.tui.screens.detail import DetailScreen
from gc_tui.tui.screens.fleet import FleetScreen
from gc_tui.tui.screens.update import UpdateScreen

Size = tuple[int, int]


def settings_for(world: DemoWorld) -> Settings:
    return Settings(
        vault=world.vault, group="CapRover", targets_path=world.targets,
        config=load_config(world.config), journal_path=world.journal,
        unlock_hint=f"demo vault {world.vault.name}, password: {DEMO_PASSWORD}",
        deploy_timing=DeployTiming(poll_interval=0.3, settle_seconds=0.3),
    )


def no_blink(app: GcTuiApp) -> None:
    for screen in app.screen_stack:
        for widget in screen.query(Input):
            widget.cursor_blink = False


async def until(pilot: Pilot[Any], predicate: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("the app did not get there")
        await pilot.pause(0.05)
    await pilot.pause(0.3)


def settled(app: GcTuiApp) -> bool:
    """Every instance answered and every registry too (NEWEST is whole)."""
    return (isinstance(app.screen, FleetScreen) and not app.auditing
            and len(app.fleet.audits) == len(app.instances)
            and app.ops.upstream is not None and app.ops.upstream.pending == 0
            and bool(app.fleet.lookups))


class Shooter:
    def __init__(self, out: Path, app: GcTuiApp, suffix: str = "") -> None:
        self.out, self.app, self.suffix = out, app, suffix
        self.written: list[Path] = []

    def __call__(self, name: str) -> None:
        no_blink(self.app)
        path = self.out / f"{name}{self.suffix}.svg"
        # The title names the terminal size, so a reader (and the README test) knows it.
        width, height = self.app.size
        path.write_text(self.app.export_screenshot(title=f"gc-tui {width}x{height}"),
                        encoding="utf-8")
        self.written.append(path)


async def type_filter(pilot: Pilot[Any], text: str) -> None:
    await pilot.press("slash", *text, "enter")
    await pilot.pause(0.2)


async def monthly_round(out: Path, world: DemoWorld) -> list[Path]:
    """The 120x40 story, key by key."""
    app = make_app(settings_for(world))
    save = Shooter(out, app)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.3)
        save("01-unlock")
        await pilot.press(*DEMO_PASSWORD, "enter")
        await until(pilot, lambda: settled(app))
        save("02-fleet")
        await type_filter(pilot, "!status:ok")
        save("03-filter")
        await pilot.press("escape")
        await type_filter(pilot, "app:^explorer$")
        await pilot.press("n", "d")  # the rows behind upstream; d offers the newest tag
        await until(pilot, lambda: isinstance(app.screen, DeployScreen))
        save("04-deploy-dialog")
        await pilot.press("tab", "enter")  # focus starts on Cancel: tab to Deploy
        await until(pilot, lambda: any(
            row.deploy is not None and row.deploy.state == "building"
            for row in app.fleet.rows.values()))
        await pilot.pause(1.0)
        save("05-deploy-in-progress")
        await until(pilot, lambda: not app.engines)
        await pilot.press("escape", "u")
        await type_filter(pilot, "instance:^staging$ app:landing")
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, DeployScreen))
        field = app.screen.query_one("#deploy-image", Input)
        field.value = "communityfirst/guardianconnector-landing-page:missing-20260901"
        await pilot.pause(0.2)
        await pilot.click("#deploy")
        await until(pilot, lambda: not isinstance(app.screen, DeployScreen))
        await until(pilot, lambda: not app.engines)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen))
        save("06-failed-row-detail")
        await pilot.press("escape", "escape")
        await type_filter(pilot, "instance:^(emberfalls|staging)$")
        await pilot.press("a", "U")
        await until(pilot, lambda: isinstance(app.screen, UpdateScreen))
        save("07-caprover-update-dialog")
        await pilot.press("escape", "escape", "u", "m")
        app.fleet_screen.matrix.move_to_key("driftwood/superset")
        await pilot.pause(0.3)
        save("08-matrix")
    return save.written


async def at_size(out: Path, world: DemoWorld, size: Size) -> list[Path]:
    """The fleet, the deploy dialog and the matrix at one terminal size."""
    app = make_app(replace(settings_for(world), password=Secret(DEMO_PASSWORD)))
    save = Shooter(out, app, suffix=f"-{size[0]}x{size[1]}")
    async with app.run_test(size=size) as pilot:
        await until(pilot, lambda: settled(app))
        save("fleet")
        await type_filter(pilot, "app:superset")
        await pilot.press("t", "d")  # the Superset rows off their target
        await until(pilot, lambda: isinstance(app.screen, DeployScreen))
        save("deploy-dialog")
        await pilot.press("escape", "escape", "u", "m")
        app.fleet_screen.matrix.move_to_key("driftwood/superset")
        await pilot.pause(0.3)
        save("matrix")
    return save.written


async def without_colour(out: Path, world: DemoWorld) -> list[Path]:
    os.environ["NO_COLOR"] = "1"
    try:
        app = make_app(replace(settings_for(world), password=Secret(DEMO_PASSWORD)))
        save = Shooter(out, app, suffix="-no-color")
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: settled(app))
            await type_filter(pilot, "!status:ok")
            save("fleet")
    finally:
        del os.environ["NO_COLOR"]
    return save.written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("screenshots"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for old in args.out.glob("*.svg"):
        old.unlink()  # a renamed shot must not linger, unreferenced
    written: list[Path] = []
    with demo_world(keep_journal=False) as world:
        written += asyncio.run(monthly_round(args.out, world))
    for size in ((80, 24), (200, 50)):
        with demo_world(keep_journal=False) as world:  # a fresh fleet: nothing deployed yet
            written += asyncio.run(at_size(args.out, world, size))
    with demo_world(keep_journal=False) as world:
        written += asyncio.run(without_colour(args.out, world))
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
