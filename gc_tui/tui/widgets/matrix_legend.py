"""Under the matrix: what the cursor's cell is, in full, and how many cells are in each state.

Cells are cut to fit and say their state with a glyph; this line spells both out. The counts
are of the cells shown and kept by the filter, in the order of ``core.matrix.LEGEND_ORDER``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.widget import Widget
from textual.widgets import Static

from gc_tui.core.matrix import LEGEND_ORDER, STATE_GLYPHS, MatrixRow
from gc_tui.tui.fleet_rows import FleetRow, Tone
from gc_tui.tui.matrix_model import FAILED_GLYPH, STATE_TONES, ShownGrid, cell_look
from gc_tui.tui.safe import safe_text
from gc_tui.tui.widgets.fleet_cells import MARK_GLYPH, PLAIN_STYLES
from gc_tui.tui.widgets.tones import TONE_CLASSES, tone_styles


def _item(*words: object) -> str:
    """Words joined by no-break spaces: a wrapped legend never splits an item."""
    return "\u00a0".join(str(word) for word in words)


def counts_text(
    shown: ShownGrid, marked: int, tones: Mapping[Tone, Style] = PLAIN_STYLES.tones
) -> Text:
    """``✓ current 47  ↓ stale 32 … ✗ 2 failed │ 3 marked``: every state with a cell."""
    text = Text()
    counts = shown.counts()
    for word in LEGEND_ORDER:
        if counts[word]:
            if text:
                text.append("  ")
            text.append(_item(STATE_GLYPHS[word], word, counts[word]),
                        style=tones[STATE_TONES[word]])
    failed = shown.failed
    if failed:
        text.append("  " if text else "")
        text.append(_item(FAILED_GLYPH, str(failed), "failed"), style=tones[Tone.FAILED])
    if not text:
        text.append("no cells", style=tones[Tone.MUTED])
    text.append(" │ ")
    text.append(_item(MARK_GLYPH, str(marked), "marked"), style="bold" if marked else "")
    return text


def cursor_text(
    row: MatrixRow | None, app: str | None, fleet_row: FleetRow | None,
    tones: Mapping[Tone, Style] = PLAIN_STYLES.tones,
) -> Text:
    """The cursor's cell in words: instance / app, the state and why, the whole image (last:
    a narrow terminal cuts it first)."""
    text = Text(no_wrap=True, overflow="ellipsis")
    if row is None:
        return text
    text.append_text(safe_text(row.instance, style="bold"))
    if not row.ok or app is None:
        reason = row.status_text if not row.ok else "no apps"
        text.append(": ")
        shown = safe_text(reason)
        if not row.ok:
            shown.stylize(tones[Tone.FAILED])
        text.append_text(shown)
        return text
    cell = row.cell(app)
    look = cell_look(cell, fleet_row)
    text.append(" / ")
    text.append_text(safe_text(app, style="bold"))
    text.append("  ")
    text.append(f"{look.glyph} {look.word}", style=tones[look.tone])
    detail = (fleet_row.deploy.error if fleet_row is not None and fleet_row.deploy is not None
              and fleet_row.deploy.error else cell.detail)
    if detail and look.word != "absent":
        text.append(": ")
        text.append_text(safe_text(detail))
    text.append("  ")
    text.append_text(safe_text(cell.image or "(not on this instance)"))
    return text


class MatrixLegend(Widget):
    """Two lines under the matrix: the cursor's cell, then the counts (they may wrap)."""

    COMPONENT_CLASSES: ClassVar[set[str]] = set(TONE_CLASSES.values())

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._tones: dict[Tone, Style] | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="matrix-cell")
        yield Static(id="matrix-counts")

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._tones = None

    def tones(self) -> dict[Tone, Style]:
        if self._tones is None:
            self._tones = tone_styles(self)
        return self._tones

    def show_counts(self, shown: ShownGrid, marked: int) -> None:
        self.query_one("#matrix-counts", Static).update(counts_text(shown, marked, self.tones()))

    def show_cursor(
        self, row: MatrixRow | None, app: str | None, fleet_row: FleetRow | None
    ) -> None:
        self.query_one("#matrix-cell", Static).update(
            cursor_text(row, app, fleet_row, self.tones()))
