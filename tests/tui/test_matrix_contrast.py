"""Every word and glyph the matrix draws reaches a WCAG contrast of 4.5:1 against its
background: each state's tone in a plain cell, under the cursor, marked, marked under the
cursor, kept or dimmed by the filter, the failed rows, the header and the legend; with colours
and under NO_COLOR, in truecolor and in 256 colours (tests/tui/contrast.py, as for the table)."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.color import ColorSystem
from textual.geometry import Region
from textual.widgets import Static

from gc_tui.core.engine import RowState
from gc_tui.core.targets import save_targets, targets_from_mapping
from gc_tui.settings import Settings
from gc_tui.tui.app import make_app
from gc_tui.tui.filter import parse_filter
from gc_tui.tui.fleet_rows import Tone
from gc_tui.tui.matrix_model import cell_look
from tests.demo_data import demo_fleet_data
from tests.tui.canned import deploy_event, load_canned
from tests.tui.contrast import Shown, shown

AA = 4.5  # https://www.w3.org/TR/WCAG21/#contrast-minimum
DEPLOYS = {"alderbrook/comapeo": RowState.BUILDING, "alderbrook/explorer": RowState.FAILED}


async def _drawn(pilot, app, system) -> tuple[list[tuple[str, Shown]], set[tuple[Tone, str]]]:  # type: ignore[no-untyped-def]
    """(how, word) for every visible word; and (tone, how) for every cell drawn."""
    screen = app.fleet_screen
    matrix = screen.matrix
    width = matrix.size.width
    words: list[tuple[str, Shown]] = []
    tones: set[tuple[Tone, str]] = set()
    for marked in (False, True):
        app.fleet.unmark_all()
        if marked:
            app.fleet.mark_visible()
        screen.flush(force_header=True)
        await pilot.pause()
        grid = matrix.shown
        lines = matrix.render_lines(Region(0, 0, width, len(grid.instances) + 1))
        words += [("header", item) for item in shown(lines[0], system)]
        for row_index, instance in enumerate(grid.instances):
            row = grid.rows[instance]
            how = "cursor" + (" marked" if marked else "")
            for app_name in grid.apps if row.ok else grid.apps[:1]:
                # render_line reads the cursor as it is: no need to wait for the message.
                matrix.move_to_key(f"{instance}/{app_name}" if row.ok else f"{instance}/\x00")
                (line,) = matrix.render_lines(Region(0, row_index + 1, width, 1))
                words += [(how, item) for item in shown(line, system)]
                if row.ok:
                    key = f"{instance}/{app_name}"
                    look = cell_look(row.cell(app_name), app.fleet.rows.get(key))
                    kept = grid.in_filter(key)
                    tones.add((look.tone if kept else Tone.MUTED, how))
                else:
                    tones.add((Tone.FAILED, how))
            plain_how = "plain" + (" marked" if marked else "")
            matrix.move_to_key(f"{grid.instances[0]}/{grid.apps[0]}")
            (line,) = matrix.render_lines(Region(0, row_index + 1, width, 1))
            if row_index:  # the cursor is on the first row
                words += [(plain_how, item) for item in shown(line, system)]
                for app_name in grid.apps:
                    key = f"{instance}/{app_name}"
                    if row.ok:
                        look = cell_look(row.cell(app_name), app.fleet.rows.get(key))
                        tones.add((look.tone if grid.in_filter(key) else Tone.MUTED, plain_how))
                    else:
                        tones.add((Tone.FAILED, plain_how))
        for static in screen.query("MatrixLegend Static").results(Static):
            for line in static.render_lines(Region(0, 0, static.size.width, static.size.height)):
                words += [("legend", item) for item in shown(line, system)]
    return words, tones


@pytest.mark.parametrize("system", [None, ColorSystem.EIGHT_BIT], ids=["truecolor", "256"])
@pytest.mark.parametrize("no_color", [False, True], ids=["colours", "NO_COLOR"])
@pytest.mark.parametrize("filtered", [False, True], ids=["all", "filter"])
async def test_every_word_of_the_matrix_reaches_aa(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, no_color: bool,
    system: ColorSystem | None, filtered: bool,
) -> None:
    if no_color:
        monkeypatch.setenv("NO_COLOR", "1")
    else:
        monkeypatch.delenv("NO_COLOR", raising=False)
    targets = tmp_path / "targets.toml"
    save_targets(targets, targets_from_mapping(demo_fleet_data()["target_images"]))
    app = make_app(Settings(vault=Path("fleet.kdbx"), targets_path=targets))
    async with app.run_test(size=(200, 50)) as pilot:
        await load_canned(pilot)
        for key, state in DEPLOYS.items():
            app.fleet.apply_run_event(deploy_event(key, state, started_at=1.0, at=2.0), "r/x:1")
        if filtered:  # kept cells in their tones, the others dimmed
            app.fleet.set_filter(parse_filter("status:stale|manual|missing"))
        await pilot.press("m")
        await pilot.pause()
        words, tones = await _drawn(pilot, app, system)
    hows = ("plain", "cursor", "plain marked", "cursor marked")
    # A done deploy shows the audit's state, so DONE is never a cell's tone; with the filter,
    # the cells it keeps are stale, manual or missing, and the rest are dimmed.
    drawn = {Tone.MANUAL, Tone.MUTED} if filtered else set(Tone) - {Tone.DONE}
    expected = {(tone, how) for tone in drawn for how in hows}
    assert expected <= tones, expected - tones  # every tone a cell can have, every way
    worst = min((item.contrast, item.text, how) for how, item in words)
    assert worst[0] >= AA, worst


@pytest.mark.parametrize("no_color", [True, False], ids=["NO_COLOR", "colours"])
async def test_states_read_as_glyphs_and_words_in_the_export(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, no_color: bool
) -> None:
    """As a terminal shows it (Textual's SVG export, after its filters): every state has its
    glyph in the cells and its word in the legend, each at 4.5:1 at least."""
    from tests.tui.contrast import svg_words

    if no_color:
        monkeypatch.setenv("NO_COLOR", "1")
    else:
        monkeypatch.delenv("NO_COLOR", raising=False)
    targets = tmp_path / "targets.toml"
    save_targets(targets, targets_from_mapping(demo_fleet_data()["target_images"]))
    app = make_app(Settings(vault=Path("fleet.kdbx"), targets_path=targets))
    async with app.run_test(size=(200, 50)) as pilot:
        await load_canned(pilot)
        await pilot.press("m")
        await pilot.pause()
        words = svg_words(app.export_screenshot())
    for state, glyph in (("current", "✓"), ("stale", "↓"), ("other-repo", "≠"),
                         ("floating", "~"), ("manual", "✎"), ("missing", "∅"), ("held", "‖"),
                         ("unmanaged", "·"), ("failed", "✗")):
        drawn = [item for item in words if glyph in item.text]
        assert drawn, glyph
        assert min(item.contrast for item in drawn) >= AA, (glyph, drawn)
        assert any(state in item.text for item in words), state
