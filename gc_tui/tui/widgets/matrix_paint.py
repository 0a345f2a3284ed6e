"""Drawing the matrix's lines: the header of app names, each instance's cells, a failed row.

Nothing here knows the model or the cursor's position: the widget says what to draw. A cell's
segments are kept per (look, mark, filter, cursor, width), and a fleet repeats its tags and
states, so a frame of 50 lines is mostly dict lookups. Every name, tag and reason goes through
``printable``; segments are drawn as they are, never read as markup.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from gc_tui.core.matrix_fit import abbreviate_tag, keep_start, short_label, text_width
from gc_tui.core.text import printable
from gc_tui.tui.fleet_rows import Tone
from gc_tui.tui.matrix_model import FAILED_GLYPH, CellLook
from gc_tui.tui.widgets.fleet_cells import MARK_GLYPH
from gc_tui.tui.widgets.matrix_layout import CELL_PREFIX, NAME_LABEL, Window

MORE_LEFT, MORE_RIGHT = "◂", "▸"
_CACHE_LIMIT = 20_000


@dataclass(frozen=True)
class MatrixPaint:
    """The matrix's styles, resolved from its component classes (app.tcss)."""

    base: Style  # the widget's own colours, beneath everything
    header: Style
    cursor: Style  # on top of the cursor's cell
    marked: Style
    mark: Style
    axis: Style  # the cursor's instance name and app label
    tones: Mapping[Tone, Style]


def _pad(text: str, width: int) -> str:
    return text + " " * max(width - text_width(text), 0)


class MatrixPainter:
    def __init__(self, paint: MatrixPaint) -> None:
        self.paint = paint
        self._cells: dict[tuple[CellLook, bool, bool, bool, int], list[Segment]] = {}

    def __len__(self) -> int:
        return len(self._cells)

    def forget(self) -> None:
        self._cells.clear()

    def header(self, window: Window, cursor_app: str | None, width: int) -> Strip:
        paint = self.paint
        style = paint.base + paint.header
        name = _pad(NAME_LABEL, window.name_width - 1)
        segments = [Segment(name), Segment(MORE_LEFT if window.more_left else " ")]
        for app, share in window.columns:
            label = " " + _pad(short_label(printable(app), share - 1), share - 1)
            segments.append(Segment(label, paint.axis if app == cursor_app else None))
        if window.more_right:
            segments.append(Segment(MORE_RIGHT))
        return self._strip(segments, style, width)

    def row(
        self, name: str, cells: list[tuple[CellLook, bool, bool, bool, int]], cursor_row: bool,
        width: int, name_width: int,
    ) -> Strip:
        """``cells``: (look, marked, kept by the filter, under the cursor, width) per column."""
        segments = [self._name(name, cursor_row, name_width)]
        for cell in cells:
            segments.extend(self._cell(*cell))
        return self._strip(segments, self.paint.base, width)

    def failed_row(
        self, name: str, status: str, cursor_row: bool, width: int, window: Window
    ) -> Strip:
        """An instance that did not answer: its status across every column."""
        paint = self.paint
        span = max(sum(share for _, share in window.columns), CELL_PREFIX)
        reason = keep_start(printable(status), span - CELL_PREFIX)
        text = _pad(" " + FAILED_GLYPH + " " + reason, span)
        style = paint.tones[Tone.FAILED]
        segments = [self._name(name, cursor_row, window.name_width)]
        if cursor_row:
            segments.extend(Segment.apply_style([Segment(text, style)], None, paint.cursor))
        else:
            segments.append(Segment(text, style))
        return self._strip(segments, paint.base, width)

    def _name(self, name: str, cursor_row: bool, name_width: int) -> Segment:
        shown = _pad(keep_start(printable(name), name_width - 1), name_width)
        return Segment(shown, self.paint.axis if cursor_row else None)

    def _cell(
        self, look: CellLook, marked: bool, kept: bool, cursor: bool, width: int
    ) -> list[Segment]:
        key = (look, marked, kept, cursor, width)
        found = self._cells.get(key)
        if found is not None:
            return found
        paint = self.paint
        tone = paint.tones[look.tone if kept else Tone.MUTED]
        text = abbreviate_tag(printable(look.text), width - CELL_PREFIX)
        segments = [
            Segment(MARK_GLYPH if marked else " ", paint.mark if marked else None),
            Segment(f"{look.glyph} {text}", tone),
            Segment(" " * max(width - CELL_PREFIX - text_width(text), 0)),
        ]
        under = paint.marked if marked else None
        segments = list(Segment.apply_style(segments, under, paint.cursor if cursor else None))
        if len(self._cells) > _CACHE_LIMIT:
            self._cells.clear()
        self._cells[key] = segments
        return segments

    @staticmethod
    def _strip(segments: list[Segment], base: Style, width: int) -> Strip:
        strip = Strip(Segment.simplify(Segment.apply_style(segments, base)))
        return strip.adjust_cell_length(width, base)
