"""With NO_COLOR (or a 16-colour terminal) every state still reads as a word."""

from __future__ import annotations

import re

import pytest
from textual.widgets import Input

from tests.tui.conftest import load_canned
from tests.tui.test_snapshots import app_for_snapshot


@pytest.mark.parametrize("environment", [{"NO_COLOR": "1"}, {"TEXTUAL_COLOR_SYSTEM": "standard"}])
async def test_states_are_words(monkeypatch: pytest.MonkeyPatch, environment: dict[str, str]) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    app = app_for_snapshot()
    async with app.run_test(size=(160, 60)) as pilot:
        await load_canned(pilot)
        await pilot.press("slash")
        pilot.app.screen.query_one("#filter", Input).value = "instance:fernridge|graniteflats|cedarmesa"
        await pilot.press("enter")
        await pilot.pause()
        screenshot = app.export_screenshot()
    text = re.sub(r"<[^>]+>", " ", screenshot).replace("&#160;", " ")
    for word in ("manual", "unreachable", "auth failed", "ok"):
        assert word in text, word
    if "NO_COLOR" in environment:
        # Monochrome: greys only (the SVG frame's own foreground is a near-grey #c5c8c6).
        colours = set(re.findall(r"fill: #([0-9a-f]{6})", screenshot))
        spreads = [max(channels) - min(channels)
                   for channels in ([int(c[i:i + 2], 16) for i in (0, 2, 4)] for c in colours)]
        assert colours and max(spreads) <= 8, colours
