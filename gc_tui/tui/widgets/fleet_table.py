"""The fleet table: one row per (instance, app), drawn line by line from the model.

A ``ScrollView`` on Textual's Line API (``render_line``), as toolong's log view and
harlequin's fast table are, on Textual's public API only (docs/tui.md, "The fleet table").
The model is the source: ``sync`` takes the rows the model shows, in its order, and rebuilds
only the rows whose cells changed. A frame draws only the lines on screen (fleet_paint.py).
Column widths follow the terminal (fleet_layout.py); the cursor follows its row's key.
"""

from __future__ import annotations

from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from gc_tui.tui.filter import NO_FILTER, Filter
from gc_tui.tui.fleet_model import Changes, FleetModel
from gc_tui.tui.fleet_rows import RowKind
from gc_tui.tui.fleet_sort import DEFAULT_SORT, SortColumn
from gc_tui.tui.widgets.fleet_cells import (
    MARK_GLYPH,
    CellMaker,
    CellStyles,
    caprover_text,
    format_elapsed,
    render_row,
    status_text,
    status_word,
)
from gc_tui.tui.widgets.fleet_layout import GAP, columns_for, layout
from gc_tui.tui.widgets.fleet_paint import Paint, Painter, ShownRow
from gc_tui.tui.widgets.tones import TONE_CLASSES, component_style, tone_styles

__all__ = [
    "MARK_GLYPH",
    "CellMaker",
    "CellStyles",
    "FleetTable",
    "caprover_text",
    "format_elapsed",
    "render_row",
    "status_text",
    "status_word",
]


class FleetTable(ScrollView, can_focus=True):
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "fleet-table--header",
        "fleet-table--sorted",
        "fleet-table--cursor",
        "fleet-table--marked",
        "fleet-table--mark",
        "fleet-table--muted",
        "fleet-table--manual-image",
        "fleet-table--update-available",
        *TONE_CLASSES.values(),
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor_up", "Up", show=False),
        Binding("down", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home,ctrl+home", "cursor_top", "Top", show=False),
        Binding("end,ctrl+end", "cursor_bottom", "Bottom", show=False),
        Binding("enter", "choose", "Choose", show=False),
    ]

    class RowChosen(Message):
        """Enter on a row, or a click on the cursor's row."""

        def __init__(self, table: FleetTable, key: str) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> FleetTable:
            return self.table

    def __init__(self, *, with_drift: bool = False, id: str | None = None) -> None:
        super().__init__(id=id)
        self.with_drift = with_drift
        self._columns = columns_for(with_drift)
        self._styles = CellStyles()
        self._maker = CellMaker(self._styles, with_drift)
        self._painter: Painter | None = None  # made on first draw: it needs the app's console
        self._paint: Paint | None = None  # resolved again after each style change
        self._model: FleetModel | None = None
        self._now = 0.0
        self._shown: list[str] = []  # the rows shown, in order
        self._index: dict[str, int] = {}  # key -> its line among them
        self._rows: dict[str, ShownRow] = {}  # every row built and still in the model
        self._filter: Filter = NO_FILTER  # the filter the rows shown were chosen by
        self._cursor = 0
        # Until the operator moves the cursor it stays on the first row: following the key
        # of whichever row arrived first (an unreachable server answers first) left it in
        # the middle of the fleet once every row was in.
        self._cursor_chosen = False
        self._pending_cursor_key: str | None = None  # kept across enable_drift
        self._layout_key: tuple[object, ...] = ()

    # -- what other code reads ------------------------------------------------------------

    @property
    def row_count(self) -> int:
        return len(self._shown)

    @property
    def cursor_row(self) -> int:
        return self._cursor

    @property
    def widths(self) -> dict[str, int]:
        """Each of the table's columns and its width now; 0 while the terminal hides it."""
        placed = self._painter.layout if self._painter is not None else ()
        shown = {column.column.key: column.width for column in placed}
        return {column.key: shown.get(column.key, 0) for column in self._columns}

    @property
    def sortable(self) -> tuple[SortColumn, ...]:
        """The columns ``s`` cycles through: every labelled column of this table."""
        keys = {column.key for column in self._columns}
        return tuple(column for column in SortColumn if column.value in keys)

    def visible_keys(self) -> list[str]:
        return list(self._shown)

    def cursor_key(self) -> str | None:
        return self._shown[self._cursor] if self._shown else None

    def get_cell(self, key: str, column: str) -> Text:
        index = [candidate.key for candidate in self._columns].index(column)
        return self._rows[key].cells[index]

    def cached_cells(self) -> int:
        """Cells and cut cells held for reuse: none after ``forget``."""
        return len(self._maker) + (len(self._painter) if self._painter is not None else 0)

    # -- the cursor, by key ----------------------------------------------------------------

    def move_cursor(self, row: int) -> None:
        """Put the cursor on line ``row``, as the operator's keys do."""
        self._cursor_chosen = True
        self._set_cursor(row)

    def move_to_key(self, key: str) -> None:
        index = self._index.get(key)
        if index is not None:
            self.move_cursor(index)

    def action_cursor_up(self) -> None:
        self.move_cursor(self._cursor - 1)

    def action_cursor_down(self) -> None:
        self.move_cursor(self._cursor + 1)

    def action_page_up(self) -> None:
        self.move_cursor(self._cursor - self._page())

    def action_page_down(self) -> None:
        self.move_cursor(self._cursor + self._page())

    def action_cursor_top(self) -> None:
        self.move_cursor(0)

    def action_cursor_bottom(self) -> None:
        self.move_cursor(len(self._shown) - 1)

    def action_choose(self) -> None:
        key = self.cursor_key()
        if key is not None:
            self.post_message(self.RowChosen(self, key))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y < 1:
            return
        index = self.scroll_offset.y + offset.y - 1
        if index >= len(self._shown):
            return
        if index == self._cursor:
            self.action_choose()
        else:
            self.move_cursor(index)

    def _page(self) -> int:
        return max(1, self.scrollable_content_region.height - 2)

    def _set_cursor(self, index: int) -> None:
        index = max(0, min(index, len(self._shown) - 1))
        if index != self._cursor:
            self.refresh_line(self._cursor + 1)  # lines count the header
            self._cursor = index
            self.refresh_line(index + 1)
        lines = max(1, self.scrollable_content_region.height - 1)
        top = self.scroll_offset.y
        if index < top:
            self.scroll_to(y=index, animate=False, force=True)
        elif index >= top + lines:
            self.scroll_to(y=index - lines + 1, animate=False, force=True)

    # -- writing the model in ----------------------------------------------------------------

    def sync(self, model: FleetModel, changes: Changes, now: float) -> None:
        """Bring the table to the model: the rows shown and their order, then changed rows.

        When the filter changed what is shown, the cursor goes to the first row, so the
        first match is on screen and under the cursor; otherwise it stays on its row.
        """
        self._model, self._now = model, now
        visible = model.visible_keys()
        filter_changed = model.filter != self._filter
        self._filter = model.filter
        redraw = False
        if visible != self._shown:
            cursor_key = self._pending_cursor_key or self.cursor_key()
            self._pending_cursor_key = None
            self._reshape(model, visible, now)
            index = self._index.get(cursor_key or "")
            if filter_changed or not self._cursor_chosen:
                self._cursor = 0
                self.scroll_to(y=0, animate=False, force=True)
            elif index is not None:
                self._cursor = index
            self._set_cursor(self._cursor)
            redraw = True
        changed: list[int] = []
        for key in changes.cells:
            old = self._rows.get(key)
            if old is None:
                continue
            line = self._index.get(key)
            if line is None:
                del self._rows[key]  # hidden: built again when shown
                continue
            new = self._row(model, key, now)
            if not new.same_as(old):
                self._rows[key] = new
                changed.append(line)
        if self._relayout() or redraw:
            self.refresh()
        else:
            top = self.scroll_offset.y
            bottom = top + self.scrollable_content_region.height
            for line in changed:
                if top <= line < bottom:
                    self.refresh_line(line + 1)
        if not model.rows:
            self.forget()

    def enable_drift(self) -> None:
        """Add the drift column: every row is built again at the next sync."""
        if self.with_drift:
            return
        self._pending_cursor_key = self.cursor_key()
        self.with_drift = True
        self._columns = columns_for(True)
        self._maker = CellMaker(self._styles, True)
        self._rows.clear()
        self._shown = []
        self._index = {}
        self._layout_key = ()
        self.refresh()

    def forget(self) -> None:
        """Drop the cells kept for reuse (the idle lock: they hold what the servers said)."""
        self._maker.forget()
        if self._painter is not None:
            self._painter.forget()

    def _row(self, model: FleetModel, key: str, now: float) -> ShownRow:
        row = model.rows[key]
        marked = key in model.marks
        return ShownRow(self._maker.row(row, marked, now), marked, row.kind is RowKind.APP)

    def _reshape(self, model: FleetModel, visible: list[str], now: float) -> None:
        rows = self._rows
        if any(key not in model.rows for key in rows):
            self._rows = rows = {key: row for key, row in rows.items() if key in model.rows}
        for key in visible:
            if key not in rows:
                rows[key] = self._row(model, key, now)
        self._shown = list(visible)
        self._index = {key: line for line, key in enumerate(visible)}
        self._cursor = min(self._cursor, max(0, len(visible) - 1))
        self.virtual_size = Size(self.virtual_size.width, len(visible) + 1)

    # -- styles and widths -------------------------------------------------------------------

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._paint = None

    def on_resize(self, event: events.Resize) -> None:
        if self._relayout():
            self.refresh()

    def _resolve_styles(self) -> Paint:
        def component(name: str) -> Style:
            return component_style(self, name)

        styles = CellStyles(
            tones=tone_styles(self),
            manual_image=component("fleet-table--manual-image"),
            muted=component("fleet-table--muted"),
            mark=component("fleet-table--mark"),
            update_available=component("fleet-table--update-available"),
        )
        if styles != self._styles:
            # A new theme: the cells carry their styles, so every row is built again.
            self._styles = styles
            self._maker = CellMaker(styles, self.with_drift)
            if self._painter is not None:
                self._painter.forget()
            model = self._model
            if model is not None:
                self._rows = {key: self._row(model, key, self._now)
                              for key in self._rows if key in model.rows}
        self._paint = Paint(
            base=self.rich_style,
            marked=component("fleet-table--marked"),
            cursor=component("fleet-table--cursor"),
            header=component("fleet-table--header"),
            sorted=component("fleet-table--sorted"),
        )
        return self._paint

    def _relayout(self) -> bool:
        """Widths for the room there is now; True when they changed."""
        if self._painter is None:
            return False
        width = self.scrollable_content_region.width
        natural = self._maker.widest
        key = (width, self.with_drift, *sorted(natural.items()))
        if key == self._layout_key:
            return False
        self._layout_key = key
        placed = layout(self._columns, natural, width)
        if placed == self._painter.layout:
            return False
        self._painter.set_layout(placed, [column.key for column in self._columns])
        used = sum(column.width for column in placed) + GAP * (len(placed) - 1)
        self.virtual_size = Size(min(used, width), len(self._shown) + 1)
        return True

    # -- drawing -----------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        if self._painter is None:
            self._painter = Painter(self.app.console)
        paint = self._paint or self._resolve_styles()
        if self._relayout():
            self.refresh()  # lines drawn before this one had the old widths
        painter = self._painter
        width = self.scrollable_content_region.width
        if y == 0:
            order = self._model.sort if self._model is not None else DEFAULT_SORT
            return painter.header(paint, order, width)
        line = self.scroll_offset.y + y - 1
        row = self._rows.get(self._shown[line]) if line < len(self._shown) else None
        if row is None:
            return Strip.blank(width, paint.base)
        return painter.row(row, paint, line == self._cursor, width)
