"""Drawing the fleet table's lines: cells cut to their columns, the row's styles on top.

A line is built from segments cached per (cell, width): cells are shared by every row with
the same content, so a frame of 50 lines costs a few hundred dict lookups. Nothing here
knows the model or the cursor's row; the widget says what to draw and how.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.cells import get_character_cell_size
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.strip import Strip

from gc_tui.tui.fleet_sort import SortOrder
from gc_tui.tui.widgets.fleet_layout import GAP, Placed

SORT_MARKS = {False: " ↑", True: " ↓"}  # ascending, descending
_GAP = Segment(" " * GAP)
_CACHE_LIMIT = 20_000


def fit(text: Text, width: int, keep_end: bool = False) -> Text:
    """``text`` in ``width`` cells at most, an ellipsis where it was cut."""
    if text.cell_len <= width:
        return text
    if width <= 1:
        return Text("…"[:width], style=text.style)
    if not keep_end:
        cut = text.copy()
        cut.truncate(width, overflow="ellipsis")
        return cut
    plain = text.plain
    if width > 4 and len(plain) > 2 and plain[1] == " " and not plain[0].isspace():
        # A sign and a space lead the cell (NEWEST's "↑ 20260818-0907"): the sign is the
        # state, so it stays, and the tag after it is cut at its start like any tag.
        return text[:2] + fit(text[2:], width - 2, keep_end=True)
    start, used = len(plain), 1
    while start > 0 and used + get_character_cell_size(plain[start - 1]) <= width:
        start -= 1
        used += get_character_cell_size(plain[start])
    return Text("…", style=text.style) + text[start:]


@dataclass(frozen=True)
class ShownRow:
    cells: tuple[Text, ...]  # in the order of the table's columns
    marked: bool
    keep_end: bool  # an app row: its repository and tag are cut at the start

    def same_as(self, other: ShownRow) -> bool:
        """Cells are shared per content (CellMaker), so the same content is the same object."""
        return self.marked == other.marked and all(
            new is old for new, old in zip(self.cells, other.cells, strict=True)
        )


@dataclass(frozen=True)
class Paint:
    """The row-wide styles, resolved from the table's component classes."""

    base: Style  # the table's own colours: every segment gets them beneath its own
    marked: Style
    cursor: Style  # on top of the row's styles
    header: Style
    sorted: Style  # the label of the column the rows are sorted by


class Painter:
    """Lines of the table for one layout; ``forget`` drops the cut cells it keeps."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.layout: tuple[Placed, ...] = ()
        self.cell_index: dict[str, int] = {}
        # (id of a cell, width, cut at the start) -> (the cell, its segments at that width);
        # holding the cell keeps its id from being reused while the entry lives.
        self._segments: dict[tuple[int, int, bool], tuple[Text, list[Segment]]] = {}
        # Whole lines, for rows drawn again unchanged (a filter shows rows seen before):
        # (id of the row, under the cursor, width) -> (the row, its line).
        self._lines: dict[tuple[int, bool, int], tuple[ShownRow, Strip]] = {}
        self._paint: Paint | None = None  # the paint the lines were drawn with

    def __len__(self) -> int:
        return len(self._segments) + len(self._lines)

    def set_layout(self, layout: tuple[Placed, ...], keys: Sequence[str]) -> None:
        self.layout = layout
        self.cell_index = {key: index for index, key in enumerate(keys)}
        self.forget()

    def forget(self) -> None:
        self._segments.clear()
        self._lines.clear()

    def header(self, paint: Paint, order: SortOrder, width: int) -> Strip:
        style = paint.base + paint.header
        segments: list[Segment] = []
        for number, placed in enumerate(self.layout):
            if number:
                segments.append(_GAP)
            column = placed.column
            label = Text(column.label)
            if order.column is not None and order.column.value == column.key:
                label.append(SORT_MARKS[order.descending])
                label.stylize(paint.sorted)
            segments.extend(self._render(label, placed.width, False))
        strip = Strip(Segment.simplify(Segment.apply_style(segments, style)))
        return strip.adjust_cell_length(width, style)

    def row(self, row: ShownRow, paint: Paint, cursor: bool, width: int) -> Strip:
        if paint is not self._paint:
            self._lines.clear()
            self._paint = paint
        key = (id(row), cursor, width)
        found = self._lines.get(key)
        if found is not None:
            return found[1]
        strip = self._draw(row, paint, cursor, width)
        if len(self._lines) > _CACHE_LIMIT:
            self._lines.clear()
        self._lines[key] = (row, strip)
        return strip

    def _draw(self, row: ShownRow, paint: Paint, cursor: bool, width: int) -> Strip:
        segments: list[Segment] = []
        for number, placed in enumerate(self.layout):
            if number:
                segments.append(_GAP)
            column = placed.column
            cell = row.cells[self.cell_index[column.key]]
            segments.extend(self._cut(cell, placed.width, column.keep_end and row.keep_end))
        base = paint.base + paint.marked if row.marked else paint.base
        post = paint.cursor if cursor else None
        # Joined where the styles agree: a plain row is then a few segments, not 25, and
        # Textual's own pass over every line (filters, cropping) has that much less to do.
        strip = Strip(Segment.simplify(Segment.apply_style(segments, base, post)))
        return strip.adjust_cell_length(width, base + post if post is not None else base)

    def _cut(self, cell: Text, width: int, keep_end: bool) -> list[Segment]:
        """The cell's segments in exactly ``width`` cells, without the row's styles."""
        key = (id(cell), width, keep_end)
        found = self._segments.get(key)
        if found is not None:
            return found[1]
        segments = self._render(cell, width, keep_end)
        if len(self._segments) > _CACHE_LIMIT:
            self._segments.clear()
        self._segments[key] = (cell, segments)
        return segments

    def _render(self, cell: Text, width: int, keep_end: bool) -> list[Segment]:
        shown = fit(cell, width, keep_end)
        # Text.render leaves the text's own style out (its console protocol adds it).
        segments = Segment.apply_style(shown.render(self.console),
                                       self.console.get_style(shown.style))
        return Segment.adjust_line_length([segment for segment in segments if segment.text],
                                          width)
