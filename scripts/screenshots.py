"""Render SVG screenshots of the TUI on the demo fleet into screenshots/.

    .venv/bin/python scripts/screenshots.py [--out screenshots] [--size 120x34]

Starts the fake demo fleet on loopback, writes a throw-away demo vault, then drives the app
headless: unlock, fleet table, filter, deploy dialog, a deploy in progress, a failed row,
the CapRover update dialog. Then the matrix at 120x40 and 200x50 (``--matrix-only``: those
alone).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from textual.widgets import Input

from gc_tui.core.deploy import DeployTiming
from gc_tui.demo.catalog import demo_instances, demo_vault_entries
from gc_tui.demo.demo_vault import write_demo_vault
from gc_tui.demo.fleet import FakeFleetThread
from gc_tui.settings import Settings
from gc_tui.tui.app import GcTuiApp, make_app
from gc_tui.tui.screens.deploy import DeployScreen
from gc_tui.tui.screens.fleet import FleetScreen
from gc_tui.tui.screens.update import UpdateScreen

DEMO_PASSWORD = "demo-only-password"
EXPLORER = "communityfirst/guardianconnector-explorer"


def no_blink(app: GcTuiApp) -> None:
    for screen in app.screen_stack:
        for widget in screen.query(Input):
            widget.cursor_blink = False


async def until(pilot, predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("the app did not get there")
        await pilot.pause(0.05)
    await pilot.pause(0.3)


async def shoot(out: Path, size: tuple[int, int]) -> list[Path]:
    written: list[Path] = []
    with tempfile.TemporaryDirectory() as tmp, FakeFleetThread(
        demo_instances(build_seconds=4.0, service_update_seconds=0.5)
    ) as fleet:
        vault = Path(tmp) / "demo.kdbx"
        write_demo_vault(vault, demo_vault_entries(fleet.urls()), DEMO_PASSWORD)
        settings = Settings(
            vault=vault, group="CapRover", unlock_hint=f"Demo vault password: {DEMO_PASSWORD}",
            deploy_timing=DeployTiming(poll_interval=0.3, settle_seconds=0.3),
            journal_path=Path(tmp) / "deploys.jsonl",
        )
        app = make_app(settings)

        def save(name: str) -> None:
            no_blink(app)
            written.append(Path(app.save_screenshot(filename=f"{name}.svg", path=str(out))))

        async with app.run_test(size=size) as pilot:
            await pilot.pause(0.2)
            save("01-unlock")
            app.screen.query_one("#password", Input).value = DEMO_PASSWORD
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, FleetScreen)
                        and len(app.fleet.audits) == len(app.instances) and not app.auditing)
            save("02-fleet")
            await pilot.press("slash")
            app.screen.query_one("#filter", Input).value = "!status:ok"
            app.fleet_screen.apply_filter()
            await pilot.pause(0.3)
            save("03-filter")
            await pilot.press("escape")
            app.screen.query_one("#filter", Input).value = "app:^explorer$"
            app.fleet_screen.apply_filter()
            await pilot.press("a", "d")
            await until(pilot, lambda: isinstance(app.screen, DeployScreen))
            app.screen.query_one("#deploy-image", Input).value = f"{EXPLORER}:20260901-1000"
            await pilot.pause(0.3)
            save("04-deploy-dialog")
            await pilot.click("#deploy")
            await until(pilot, lambda: any(
                row.deploy is not None and row.deploy.state == "building"
                for row in app.fleet.rows.values()))
            await pilot.pause(1.2)
            save("05-deploy-in-progress")
            await until(pilot, lambda: not app.engines, timeout=60)
            await pilot.press("escape", "u")
            app.fleet_screen.table.move_to_key("staging/gc-landing-page")
            await pilot.press("d")
            await until(pilot, lambda: isinstance(app.screen, DeployScreen))
            app.screen.query_one("#deploy-image", Input).value = (
                "communityfirst/guardianconnector-landing-page:missing-20260901"
            )
            await pilot.pause(0.2)
            await pilot.click("#deploy")
            await until(pilot, lambda: not app.engines, timeout=60)
            app.fleet_screen.table.move_to_key("staging/gc-landing-page")
            await pilot.press("enter")
            await pilot.pause(0.5)
            save("06-failed-row-detail")
            await pilot.press("escape", "u", "slash")
            app.screen.query_one("#filter", Input).value = "instance:^(emberfalls|staging)$"
            await pilot.press("enter")  # applies the filter and returns to the table
            await pilot.press("a", "U")
            await until(pilot, lambda: isinstance(app.screen, UpdateScreen))
            save("07-caprover-update-dialog")
    return written


# -- the matrix (`m`), at the sizes the README shows it ----------------------------------------

MATRIX_SIZES = {"08-matrix-120x40": (120, 40), "09-matrix-200x50": (200, 50)}


async def shoot_matrix(out: Path) -> list[Path]:
    """The matrix of the demo fleet against its targets, the cursor on a stale Superset."""
    from gc_tui.core.secret import Secret
    from gc_tui.core.targets import save_targets, targets_from_mapping
    from gc_tui.demo.catalog import demo_fleet_data

    written: list[Path] = []
    with tempfile.TemporaryDirectory() as tmp, FakeFleetThread(demo_instances()) as fleet:
        vault = Path(tmp) / "demo.kdbx"
        write_demo_vault(vault, demo_vault_entries(fleet.urls()), DEMO_PASSWORD)
        targets = Path(tmp) / "targets.toml"
        save_targets(targets, targets_from_mapping(demo_fleet_data()["target_images"]))
        for name, size in MATRIX_SIZES.items():
            app = make_app(Settings(vault=vault, group="CapRover", targets_path=targets,
                                    password=Secret(DEMO_PASSWORD),
                                    journal_path=Path(tmp) / "deploys.jsonl"))
            async with app.run_test(size=size) as pilot:
                await until(pilot, lambda app=app: isinstance(app.screen, FleetScreen)
                            and len(app.fleet.audits) == len(app.instances) and not app.auditing)
                await pilot.press("m")
                app.fleet_screen.matrix.move_to_key("staging/postgres")  # columns from the left
                await pilot.pause(0.1)
                app.fleet_screen.matrix.move_to_key("driftwood/superset")
                await pilot.pause(0.3)
                written.append(Path(app.save_screenshot(filename=f"{name}.svg", path=str(out))))
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("screenshots"))
    parser.add_argument("--size", default="120x34")
    parser.add_argument("--matrix-only", action="store_true", help="only the matrix's shots")
    args = parser.parse_args()
    width, height = (int(part) for part in args.size.split("x"))
    args.out.mkdir(parents=True, exist_ok=True)
    shots = [] if args.matrix_only else asyncio.run(shoot(args.out, (width, height)))
    for path in [*shots, *asyncio.run(shoot_matrix(args.out))]:
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
