"""Every TUI path an operator takes, with known secrets: none reaches a screen, an export, the
deploy log or a screenshot. The secrets are the vault's master password, each instance's admin
password, the tokens the servers issued and an env value appDefinitions returns in clear."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input

from gc_tui.tui.screens.deploy import DeployScreen
from gc_tui.tui.screens.detail import DetailScreen
from gc_tui.tui.screens.unlock import UnlockScreen
from tests.tui.harness import SIZE, Fleet, audited, wait_for
from tests.vaults import DEFAULT_PASSWORD

EXPLORER = "communityfirst/guardianconnector-explorer"


async def test_no_secret_on_any_tui_path(demo_fleet: Fleet, tmp_path: Path) -> None:
    app = demo_fleet.app(unlock=False, lock_after_minutes=60)
    shots: list[str] = []
    exports = [tmp_path / "rows.csv", tmp_path / "rows.json"]
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, UnlockScreen))
        app.screen.query_one("#password", Input).value = DEFAULT_PASSWORD
        shots.append(app.export_screenshot())  # the password field, filled
        await pilot.press("enter")
        await wait_for(pilot, lambda: audited(app))
        shots.append(app.export_screenshot())

        # A failing deploy, its detail with the build log, and a good one.
        app.fleet_screen.table.move_to_key("staging/explorer")
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, DeployScreen))
        app.screen.query_one("#deploy-image", Input).value = f"{EXPLORER}:missing-1"
        await pilot.pause()
        shots.append(app.export_screenshot())
        await pilot.click("#deploy")
        await wait_for(pilot, lambda: not app.engines, timeout=20)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen))
        shots.append(app.export_screenshot())
        await pilot.press("escape")

        # The graniteflats row (wrong password) and its detail.
        app.fleet_screen.table.move_to_key(next(k for k in app.fleet.rows if "graniteflats" in k))
        await pilot.press("enter")
        await pilot.pause()
        shots.append(app.export_screenshot())
        await pilot.press("escape")

        for path in exports:
            await pilot.press("e")
            await pilot.pause()
            if path.suffix == ".json":
                await pilot.click("#fmt-json")
            app.screen.query_one("#export-path", Input).value = str(path)
            await pilot.click("#export")
            await pilot.pause()
        await pilot.press("question_mark")
        await pilot.pause()
        shots.append(app.export_screenshot())

    secrets = [DEFAULT_PASSWORD]
    for fake in demo_fleet.instances:
        secrets += [fake.password, fake.env_secret, *fake.tokens]
    assert len(secrets) > 20  # the servers did issue tokens
    written = [path.read_text() for path in exports if path.exists()]
    assert len(written) == 2, "both exports were written"
    assert written[0].startswith("instance,") and written[1].lstrip()[:1] in "[{"
    log = demo_fleet.vault.parent / "deploys.jsonl"
    everything = "\n".join(shots + written + [log.read_text()])
    assert "staging" in everything and "missing-1" in everything
    for secret in secrets:
        assert secret not in everything
