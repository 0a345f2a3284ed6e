"""With NO_COLOR (or a 16-colour terminal) every state still reads as a word; with NO_COLOR
and with colours, the screen as exported (Textual's own SVG, after its filters) draws each
state word at a WCAG contrast of 4.5:1 at least."""

from __future__ import annotations

import re

import pytest
from textual.widgets import Input

from tests.tui.canned import app_for_snapshot, load_canned
from tests.tui.contrast import svg_words

WORDS = ("manual", "unreachable", "auth failed", "ok")


async def _screenshot(cursor_on: str | None = None) -> str:
    app = app_for_snapshot()
    async with app.run_test(size=(160, 60)) as pilot:
        await load_canned(pilot)
        await pilot.press("slash")
        app.screen.query_one("#filter", Input).value = (
            "instance:fernridge|graniteflats|cedarmesa")
        await pilot.press("enter")
        await pilot.pause()
        if cursor_on is not None:
            app.fleet_screen.table.move_to_key(cursor_on)
            await pilot.pause()
        return app.export_screenshot()


@pytest.mark.parametrize("environment", [{"NO_COLOR": "1"},
                                         {"TEXTUAL_COLOR_SYSTEM": "standard"}])
async def test_states_are_words(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str]
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    screenshot = await _screenshot()
    text = re.sub(r"<[^>]+>", " ", screenshot).replace("&#160;", " ")
    for word in WORDS:
        assert word in text, word
    if "NO_COLOR" in environment:
        # Monochrome: greys only (the SVG frame's own foreground is a near-grey #c5c8c6).
        colours = set(re.findall(r"fill: #([0-9a-f]{6})", screenshot))
        spreads = [max(channels) - min(channels)
                   for channels in ([int(c[i:i + 2], 16) for i in (0, 2, 4)] for c in colours)]
        assert colours and max(spreads) <= 8, colours


@pytest.mark.parametrize("no_color", [True, False], ids=["NO_COLOR", "colours"])
@pytest.mark.parametrize("cursor_on", [None, "fernridge/\x00", "graniteflats/\x00",
                                       "cedarmesa/superset-worker"])
async def test_state_words_reach_aa_in_the_export(
    monkeypatch: pytest.MonkeyPatch, no_color: bool, cursor_on: str | None
) -> None:
    if no_color:
        monkeypatch.setenv("NO_COLOR", "1")
    else:
        monkeypatch.delenv("NO_COLOR", raising=False)
    words = svg_words(await _screenshot(cursor_on))
    for word in (*WORDS, "failed"):  # "2 failed" in the summary line too
        drawn = [item for item in words if word in item.text]
        assert drawn, word
        assert min(item.contrast for item in drawn) >= 4.5, (word, drawn)
