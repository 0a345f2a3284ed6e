"""After unlocking, rows an earlier run left open are shown, and r settles them."""

from __future__ import annotations

from textual.widgets import Static

from gc_tui.core.journal import Journal, read_journal
from gc_tui.tui.screens.unsettled import UnsettledScreen
from tests.tui.harness import SIZE, Fleet, audited, wait_for

EXPLORER = "communityfirst/guardianconnector-explorer"


def crashed_run(journal: Journal) -> None:
    journal.append({
        "type": "run", "run": "crashed", "action": "deploy",
        "rows": [{"instance": name, "app": "explorer", "from_image": f"{EXPLORER}:20260731-948",
                  "to_image": f"{EXPLORER}:20260901-1"} for name in ("staging", "alderbrook")],
        "skipped": [],
    })
    journal.append({"type": "row", "run": "crashed", "instance": "alderbrook",
                    "app": "explorer", "state": "sending"})


async def test_open_rows_are_offered_and_settled(demo_fleet: Fleet) -> None:
    app = demo_fleet.app()
    journal = Journal(app.settings.journal_path)
    crashed_run(journal)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, UnsettledScreen))
        body = str(app.screen.query_one("#unsettled-body", Static).render())
        assert "staging / explorer" in body and "left at planned" in body
        assert "alderbrook / explorer" in body and "left at sending" in body
        await pilot.press("r")
        screen = app.screen
        assert isinstance(screen, UnsettledScreen)
        await wait_for(pilot, lambda: bool(screen.settlements), timeout=15)
        body = str(app.screen.query_one("#unsettled-body", Static).render())
        assert "cancelled: never sent" in body
        assert "failed: no trace on the server" in body
        await pilot.press("escape")
        await wait_for(pilot, lambda: audited(app))
        assert not isinstance(app.screen, UnsettledScreen)
    (run,) = read_journal(journal.path).runs
    assert {row.instance: row.state for row in run.rows.values()} == {
        "staging": "cancelled", "alderbrook": "failed"
    }


async def test_nothing_open_shows_nothing(demo_fleet: Fleet) -> None:
    app = demo_fleet.app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: audited(app))
        assert not isinstance(app.screen, UnsettledScreen)
