"""Every word the fleet table draws reaches a WCAG contrast of 4.5:1 against its background:
each state's tone on a plain row, the cursor's row, a marked row and a marked cursor row,
with colours and under NO_COLOR (Textual's monochrome filter), in truecolor and in the 256
colours an SSH session usually gets, measured on the lines as Textual renders them, after
its filters (tests/tui/contrast.py)."""

from __future__ import annotations

from typing import Any

import pytest
from rich.color import ColorSystem
from textual.geometry import Region
from textual.pilot import Pilot

from gc_tui.core.engine import RowState
from gc_tui.settings import Settings
from gc_tui.tui.app import GcTuiApp, make_app
from gc_tui.tui.filter import parse_filter
from gc_tui.tui.fleet_rows import Tone, instance_row_key
from gc_tui.tui.fleet_sort import SortColumn, SortOrder
from tests.tui.canned import deploy_event, load_canned, update_event
from tests.tui.contrast import Shown, contrast, shown

AA = 4.5  # https://www.w3.org/TR/WCAG21/#contrast-minimum

# One app row per deploy state, besides the canned fleet's own ok, manual and failed rows.
DEPLOYS = {
    "staging/comapeo": RowState.BUILDING,
    "staging/explorer": RowState.DONE,
    "staging/files": RowState.FAILED,
    "staging/postgres": RowState.SKIPPED,
    "staging/redis": RowState.CANCELLED,
}
MANUAL = "cedarmesa/superset-worker"
ROWS_SHOWN = "instance:^(staging|cedarmesa|fernridge|graniteflats|alderbrook)$"


class TestContrastHelper:
    """The helper computes WCAG's ratio; a test of contrast is only as good as it."""

    def test_known_ratios(self) -> None:
        assert contrast((0, 0, 0), (255, 255, 255)) == pytest.approx(21.0)
        assert contrast((255, 255, 255), (255, 255, 255)) == pytest.approx(1.0)
        assert contrast((0x76, 0x76, 0x76), (255, 255, 255)) == pytest.approx(4.54, abs=0.01)

    def test_reverse_video_swaps_the_colours(self) -> None:
        from rich.segment import Segment
        from rich.style import Style

        (found,) = shown([Segment("x", Style(color="#ff0000", bgcolor="#000000",
                                            reverse=True))])
        assert found == Shown("x", (0, 0, 0), (255, 0, 0))


async def _drawn_rows(
    pilot: Pilot[Any], app: GcTuiApp, system: ColorSystem | None
) -> dict[tuple[str, str], list[Shown]]:
    """(row key, how the row is drawn) -> its words: plain, cursor, marked, marked cursor."""
    model = app.fleet
    table = app.fleet_screen.table
    width = table.size.width
    found: dict[tuple[str, str], list[Shown]] = {}
    for marked in (False, True):
        model.unmark_all()
        if marked:
            model.mark_visible()
        app.fleet_screen.flush(force_header=True)
        await pilot.pause()
        keys = table.visible_keys()
        lines = table.render_lines(Region(0, 0, width, len(keys) + 1))
        found[("header", "header")] = shown(lines[0], system)
        for line, key in enumerate(keys):
            suffix = " marked" if key in model.marks else ""
            if line != table.cursor_row:
                found[(key, "plain" + suffix)] = shown(lines[line + 1], system)
        for line, key in enumerate(keys):
            suffix = " marked" if key in model.marks else ""
            table.move_cursor(line)
            (drawn,) = table.render_lines(Region(0, line + 1, width, 1))
            found[(key, "cursor" + suffix)] = shown(drawn, system)
            plain = found.get((key, "plain" + suffix))
            assert plain is None or plain != found[(key, "cursor" + suffix)], key
        table.move_cursor(0)
    return found


@pytest.mark.parametrize("system", [None, ColorSystem.EIGHT_BIT], ids=["truecolor", "256"])
@pytest.mark.parametrize("no_color", [False, True], ids=["colours", "NO_COLOR"])
async def test_every_word_reaches_aa(
    monkeypatch: pytest.MonkeyPatch, no_color: bool, system: ColorSystem | None
) -> None:
    if no_color:
        monkeypatch.setenv("NO_COLOR", "1")
    else:
        monkeypatch.delenv("NO_COLOR", raising=False)
    app = make_app(Settings())
    async with app.run_test(size=(160, 50)) as pilot:
        await load_canned(pilot)
        model = app.fleet
        for key, state in DEPLOYS.items():
            model.apply_run_event(deploy_event(key, state, started_at=1.0, at=2.0), "repo/x:1")
        model.apply_run_event(update_event("alderbrook", RowState.RESTARTING, at=3.0),
                              "caprover/caprover:1.15.3")
        model.set_filter(parse_filter(ROWS_SHOWN))
        model.set_sort(SortOrder(SortColumn.STATUS))  # the header shows the sort too
        rows = await _drawn_rows(pilot, app, system)
        drawn = {(model.rows[key].status.tone, how) for key, how in rows if key in model.rows}
        hows = ("plain", "cursor", "plain marked", "cursor marked")
        assert drawn == {(tone, how) for tone in Tone for how in hows}  # every tone, every way
        for key in [*DEPLOYS, MANUAL, instance_row_key("fernridge")]:
            word = model.rows[key].status.word
            for how in hows:
                if (key, how) in rows:
                    assert any(word in item.text for item in rows[(key, how)]), (key, how)
        worst = min((item.contrast, item.text, key, how)
                    for (key, how), items in rows.items() for item in items)
        assert worst[0] >= AA, worst
