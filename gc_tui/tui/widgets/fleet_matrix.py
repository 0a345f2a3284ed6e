"""The matrix: one line per instance, one column per app, a cursor on one cell.

A ``ScrollView`` on Textual's Line API, as the fleet table is (docs/tui.md, "The fleet
table"): ``render_line`` draws only the lines on screen. The grid is ``MatrixGrid``'s
(tui/matrix_model.py), which reads the core's (core/matrix.py) through the fleet model, so
marks, the filter, the sort and deploy states are the table's. A cell is the table's row
``instance/app``: marking one marks the other. Columns that do not fit scroll sideways with
the cursor (widgets/matrix_layout.py); the instance names stay.
"""

from __future__ import annotations

from typing import ClassVar

from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from gc_tui.core.matrix import MatrixRow
from gc_tui.core.plan import row_key
from gc_tui.tui.filter import NO_FILTER, Filter
from gc_tui.tui.fleet_model import Changes, FleetModel
from gc_tui.tui.fleet_rows import instance_row_key
from gc_tui.tui.matrix_model import EMPTY_GRID, MatrixGrid, ShownGrid, cell_look
from gc_tui.tui.widgets.matrix_layout import Window, place
from gc_tui.tui.widgets.matrix_paint import MatrixPaint, MatrixPainter
from gc_tui.tui.widgets.tones import TONE_CLASSES, component_style, tone_styles


class FleetMatrix(ScrollView, can_focus=True):
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "fleet-matrix--header",
        "fleet-matrix--cursor",
        "fleet-matrix--marked",
        "fleet-matrix--mark",
        "fleet-matrix--axis",
        *TONE_CLASSES.values(),
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor_up", "Up", show=False),
        Binding("down", "cursor_down", "Down", show=False),
        Binding("left", "cursor_left", "Left", show=False),
        Binding("right", "cursor_right", "Right", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home,ctrl+home", "cursor_top", "Top", show=False),
        Binding("end,ctrl+end", "cursor_bottom", "Bottom", show=False),
    ]

    class CursorMoved(Message):
        """The cursor is on another cell, or its cell changed: the legend says what it is."""

    def __init__(self, grid: MatrixGrid | None = None, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.grid = grid or MatrixGrid()
        self.shown: ShownGrid = EMPTY_GRID
        self._model: FleetModel | None = None
        self._filter: Filter = NO_FILTER
        self._names: list[str] = []  # every instance in the grid: the name column's width
        self._row = 0
        self._col = 0
        self._first = 0  # the first column on screen
        self._window: Window | None = None
        self._painter: MatrixPainter | None = None  # made on first draw, after the styles

    # -- what other code reads -------------------------------------------------------------

    @property
    def cursor(self) -> tuple[str, str | None] | None:
        """(instance, app) under the cursor; app None on a row without columns."""
        shown = self.shown
        if not shown.instances:
            return None
        instance = shown.instances[self._row]
        if not shown.rows[instance].ok or not shown.apps:
            return (instance, None)
        return (instance, shown.apps[self._col])

    def cursor_key(self) -> str | None:
        """The fleet model's key of the cursor's cell; the instance's own row when failed."""
        cursor = self.cursor
        if cursor is None:
            return None
        instance, app = cursor
        return instance_row_key(instance) if app is None else row_key(instance, app)

    def cursor_row(self) -> MatrixRow | None:
        cursor = self.cursor
        return self.shown.rows[cursor[0]] if cursor is not None else None

    @property
    def window(self) -> Window | None:
        """The columns on screen now, and their widths."""
        return self._window

    def cached_cells(self) -> int:
        """Cells drawn and kept for reuse: none after ``forget``."""
        return len(self._painter) if self._painter is not None else 0

    def move_to_key(self, key: str) -> None:
        """Put the cursor on the cell of a fleet row key (its instance's row when failed)."""
        instance, _, app = key.partition("/")
        row, col = self._row, self._col
        if instance in self.shown.instances:
            row = self.shown.instances.index(instance)
        if app in self.shown.apps:
            col = self.shown.apps.index(app)
        self._move(row, col)

    # -- writing the model in ------------------------------------------------------------------

    def sync(self, model: FleetModel, changes: Changes, now: float) -> None:
        """Bring the grid to the model. A new filter puts the cursor on the first cell, as
        it does in the table; otherwise the cursor stays on its instance and app."""
        del now  # deploys show their state, not their elapsed time, in a cell
        self._model = model
        rebuilt = self.grid.update(model)
        if not (rebuilt or changes.structure or changes.cells or model.filter != self._filter):
            return
        before = self.cursor
        shown = self.grid.shown(model)
        if rebuilt or not self._names:
            self._names = [instance for instance in model.instance_order
                           if instance in shown.rows]
        filter_changed = model.filter != self._filter
        self._filter = model.filter
        self.shown = shown
        if filter_changed or before is None:
            self._row, self._col, self._first = 0, 0, 0
            self.scroll_to(y=0, animate=False, force=True)
        else:
            instance, app = before
            if instance in shown.instances:
                self._row = shown.instances.index(instance)
            if app is not None and app in shown.apps:
                self._col = shown.apps.index(app)
        self._clamp()
        self.virtual_size = Size(self.size.width, len(shown.instances) + 1)
        self._window = None
        self._cursor_changed()
        self.refresh()

    def forget(self) -> None:
        """Drop the grid and every kept cell (the idle lock: they hold what servers said)."""
        self.grid.forget()
        self.shown = EMPTY_GRID
        self._names = []
        self._window = None
        if self._painter is not None:
            self._painter.forget()
        self.refresh()

    # -- the cursor ----------------------------------------------------------------------

    def action_cursor_up(self) -> None:
        self._move(self._row - 1, self._col)

    def action_cursor_down(self) -> None:
        self._move(self._row + 1, self._col)

    def action_cursor_left(self) -> None:
        self._move(self._row, self._col - 1)

    def action_cursor_right(self) -> None:
        self._move(self._row, self._col + 1)

    def action_page_up(self) -> None:
        self._move(self._row - self._page(), self._col)

    def action_page_down(self) -> None:
        self._move(self._row + self._page(), self._col)

    def action_cursor_top(self) -> None:
        self._move(0, self._col)

    def action_cursor_bottom(self) -> None:
        self._move(len(self.shown.instances) - 1, self._col)

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        window = self._window
        if offset is None or offset.y < 1 or window is None:
            return
        row = self.scroll_offset.y + offset.y - 1
        if row >= len(self.shown.instances):
            return
        col, x = self._col, window.name_width
        for index, (_, share) in enumerate(window.columns):
            if x <= offset.x < x + share:
                col = window.first + index
            x += share
        self._move(row, col)

    def _page(self) -> int:
        return max(1, self.scrollable_content_region.height - 2)

    def _move(self, row: int, col: int) -> None:
        self._row, self._col = row, col
        self._clamp()
        self._cursor_changed()
        self.refresh()

    def _clamp(self) -> None:
        self._row = max(0, min(self._row, len(self.shown.instances) - 1))
        self._col = max(0, min(self._col, len(self.shown.apps) - 1))
        lines = max(1, self.scrollable_content_region.height - 1)
        top = self.scroll_offset.y
        if self._row < top:
            self.scroll_to(y=self._row, animate=False, force=True)
        elif self._row >= top + lines:
            self.scroll_to(y=self._row - lines + 1, animate=False, force=True)

    def _cursor_changed(self) -> None:
        self.post_message(self.CursorMoved())

    # -- styles and widths ---------------------------------------------------------------

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._painter = None

    def on_resize(self, event: events.Resize) -> None:
        self._window = None
        self.virtual_size = Size(event.size.width, len(self.shown.instances) + 1)
        self.refresh()

    def _paint(self) -> MatrixPainter:
        if self._painter is None:
            def component(name: str) -> Style:
                return component_style(self, name)

            self._painter = MatrixPainter(MatrixPaint(
                base=self.rich_style,
                header=component("fleet-matrix--header"),
                cursor=component("fleet-matrix--cursor"),
                marked=component("fleet-matrix--marked"),
                mark=component("fleet-matrix--mark"),
                axis=component("fleet-matrix--axis"),
                tones=tone_styles(self),
            ))
        return self._painter

    def _place(self) -> Window:
        width = self.scrollable_content_region.width
        window = self._window
        col = self._col if self.shown.apps else None
        if window is None or (col is not None and window.index_of(self.shown.apps[col]) is None):
            window = place(self.shown.apps, self.shown.widths, self._names, width,
                           self._first, col)
            self._first = window.first
            self._window = window
        return window

    # -- drawing ---------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        painter = self._paint()
        window = self._place()
        width = self.scrollable_content_region.width
        cursor = self.cursor
        cursor_app = cursor[1] if cursor is not None else None
        if y == 0:
            return painter.header(window, cursor_app, width)
        line = self.scroll_offset.y + y - 1
        shown = self.shown
        model = self._model
        if line >= len(shown.instances) or model is None:
            return Strip.blank(width, painter.paint.base)
        instance = shown.instances[line]
        row = shown.rows[instance]
        on_cursor = cursor is not None and cursor[0] == instance
        if not row.ok:
            return painter.failed_row(instance, row.status_text, on_cursor, width, window)
        cells = []
        for app, share in window.columns:
            cell = row.cell(app)
            key = cell.key
            look = cell_look(cell, model.rows.get(key))
            kept = cell.state is None or shown.in_filter(key)
            cells.append((look, key in model.marks, kept, on_cursor and app == cursor_app, share))
        return painter.row(instance, cells, on_cursor, width, window.name_width)
