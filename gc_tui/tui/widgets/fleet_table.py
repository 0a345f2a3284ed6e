"""The fleet table: one row per (instance, app), written from the model by key, in batches.

Follows tui-notes.md §3.2-3.3: fixed column widths, cells are ``Text`` (never markup), cells
are only rewritten when their rendering changed, the cursor follows its row key, and rows
are never cleared to refresh. Adding, hiding and reordering rows touches DataTable's row
index directly (O(N) once, where ``remove_row`` is O(N) per row): Textual is pinned, and
tests/tui/test_table_speed.py covers it.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass

from rich.padding import Padding
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual._two_way_dict import TwoWayDict
from textual._types import SegmentLines
from textual.coordinate import Coordinate
from textual.widgets import DataTable
from textual.widgets._data_table import _EMPTY_TEXT
from textual.widgets.data_table import CellKey, Row, RowDoesNotExist, RowKey

from gc_tui.tui.fleet_model import Changes, FleetModel, FleetRow, RowKind, Tone
from gc_tui.tui.safe import safe_text


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    width: int


# Widths of the text; each column is one wider, which is the gap to the next column (the
# table's own padding would spend two). At 120 columns both layouts fit beside the scrollbar.
MARK = Column("mark", "", 1)
COLUMNS = (
    MARK,
    Column("instance", "INSTANCE", 13),
    Column("app", "APP", 18),
    Column("repository", "IMAGE", 26),
    Column("tag", "TAG", 19),  # "6.1.0_20260803-1652" whole
    Column("status", "STATUS", 20),  # "caprover: restarting"
    Column("caprover", "CAPROVER", 14),  # "1.13.1 ↑1.15.3"
)
DRIFT = Column("drift", "DRIFT", 10)
REPOSITORY_WITH_DRIFT = 15

# One table for every tone: the word in the cell says the same thing without colour.
TONE_STYLES = {
    Tone.OK: "green",
    Tone.MANUAL: "bold italic magenta",
    Tone.ACTIVE: "bold cyan",
    Tone.DONE: "bold green",
    Tone.FAILED: "bold red",
    Tone.MUTED: "dim",
}
MANUAL_IMAGE_STYLE = "italic magenta"
MARK_GLYPH = "●"


def format_elapsed(seconds: float | None) -> str:
    if seconds is None:
        return ""
    whole = int(seconds)
    if whole < 100:
        return f"{whole}s"
    return f"{whole // 60}m{whole % 60:02d}"


def status_word(row: FleetRow, now: float) -> str:
    """The status cell's words: the state, and the elapsed time while a deploy shows."""
    word = row.status.word
    if row.deploy is not None and not row.update_shown:
        elapsed = format_elapsed(row.deploy.elapsed(now))
        if elapsed:
            word = f"{word} {elapsed}"
    return word


def status_text(row: FleetRow, now: float, width: int = 20) -> Text:
    return safe_text(status_word(row, now), width, style=TONE_STYLES[row.status.tone])


CapRoverParts = tuple[str, str | None, str | None]


def caprover_parts(row: FleetRow) -> CapRoverParts:
    """Everything the CapRover cell shows: ("update", from, to), ("version", current, latest)."""
    update = row.update
    if update is not None and not update.final and update.to_version:
        return ("update", update.from_version or "", update.to_version)
    if row.version is None:
        return ("none", None, None)
    return ("version", row.version.current, row.version.latest if row.update_available else None)


def caprover_text(row: FleetRow, width: int = 14) -> Text:
    """The version; ``from→to`` while an update runs; ``current ↑latest`` when one exists.

    The arrow and the second version say it without colour.
    """
    return _caprover_text(caprover_parts(row), width)


def _caprover_text(parts: CapRoverParts, width: int) -> Text:
    kind, first, second = parts
    if kind == "update":
        text = safe_text(first, 7, style="bold cyan")
        text.append("→", style="bold cyan")
        text.append_text(safe_text(second, max(1, width - len(text)), style="bold cyan"))
        return text
    if kind == "none":
        return Text("")
    text = safe_text(first, 8)
    if second is not None:
        latest = safe_text(second, max(1, width - len(text) - 2), style="bold yellow")
        text.append(" ↑", style="bold yellow")
        text.append_text(latest)
    return text


def tail_text(value: str, width: int, style: str = "") -> Text:
    """Keep the end: tags and repositories differ at the end (the build date, the image name)."""
    text = safe_text(value, style=style)
    if len(text) > width:
        text = Text("…", style=style) + text[len(text) - width + 1:]
    return text


def render_row(
    row: FleetRow, marked: bool, now: float, widths: dict[str, int], with_drift: bool
) -> tuple[Text, ...]:
    """The cells of one row, in column order; every server string goes through safe_text."""
    repository, tag = row.image_parts
    image_style = MANUAL_IMAGE_STYLE if row.manual else ""
    if row.kind is RowKind.INSTANCE:
        app_cell = Text("—", style="dim")
        reason = row.instance_error or ("no apps" if row.instance_status == "ok" else "")
        repo_cell = safe_text(reason, widths["repository"], style="dim")
        tag_cell = Text("")
    else:
        app_cell = safe_text(row.app_name, widths["app"])
        repo_cell = tail_text(repository, widths["repository"], style=image_style)
        tag_cell = tail_text(tag, widths["tag"], style=image_style)
    cells = [
        Text(MARK_GLYPH if marked else "", style="bold"),
        safe_text(row.instance, widths["instance"]),
        app_cell,
        repo_cell,
        tag_cell,
        status_text(row, now, widths["status"]),
        caprover_text(row, widths["caprover"]),
    ]
    if with_drift:
        drift = row.drift
        cells.append(safe_text(drift.state if drift is not None else "", widths["drift"]))
    return tuple(cells)


class CellMaker:
    """``render_row`` with every cell built once per distinct content and shared by rows.

    A fleet repeats itself (a dozen app names, a few images and versions, one status word per
    state), so a row is a handful of dict lookups instead of a dozen ``Text`` built through
    ``printable``. The cells are the ones ``render_row`` builds (tests/tui/test_table_speed.py
    compares them); nothing mutates a cell once built, so sharing one is safe. ``forget``
    drops them all (they hold server text: the idle lock calls it).
    """

    _MARKED = Text(MARK_GLYPH, style="bold")
    _UNMARKED = Text("", style="bold")
    _DASH = Text("—", style="dim")
    _EMPTY = Text("")

    def __init__(self, widths: dict[str, int], with_drift: bool) -> None:
        self.widths = widths
        self.with_drift = with_drift
        self._texts: dict[Hashable, Text] = {}
        self._images: dict[tuple[str | None, bool], tuple[Text, Text]] = {}  # repo and tag

    def forget(self) -> None:
        self._texts.clear()
        self._images.clear()

    def _text(self, key: Hashable, build: Callable[[], Text]) -> Text:
        text = self._texts.get(key)
        if text is None:
            text = self._texts[key] = build()
        return text

    def row(self, row: FleetRow, marked: bool, now: float) -> tuple[Text, ...]:
        widths = self.widths
        texts = self._texts
        instance = row.instance
        instance_cell = texts.get(("instance", instance))
        if instance_cell is None:
            instance_cell = texts[("instance", instance)] = safe_text(
                instance, widths["instance"]
            )
        if row.kind is RowKind.INSTANCE:
            app_cell = self._DASH
            reason = row.instance_error or ("no apps" if row.instance_status == "ok" else "")
            repo_cell = self._text(
                ("reason", reason),
                lambda: safe_text(reason, widths["repository"], style="dim"),
            )
            tag_cell = self._EMPTY
        else:
            app_name = row.app_name
            found = texts.get(("app", app_name))
            if found is None:
                found = texts[("app", app_name)] = safe_text(app_name, widths["app"])
            app_cell = found
            image_key = (row.image, row.manual)
            image_cells = self._images.get(image_key)
            if image_cells is None:
                repository, tag = row.image_parts
                style = MANUAL_IMAGE_STYLE if row.manual else ""
                image_cells = self._images[image_key] = (
                    tail_text(repository, widths["repository"], style=style),
                    tail_text(tag, widths["tag"], style=style),
                )
            repo_cell, tag_cell = image_cells
        word = status_word(row, now)
        tone = row.status.tone
        status_cell = texts.get(("status", word, tone))
        if status_cell is None:
            status_cell = texts[("status", word, tone)] = safe_text(
                word, widths["status"], style=TONE_STYLES[tone]
            )
        parts = caprover_parts(row)
        caprover_cell = texts.get(parts)
        if caprover_cell is None:
            caprover_cell = texts[parts] = _caprover_text(parts, widths["caprover"])
        cells: tuple[Text, ...] = (
            self._MARKED if marked else self._UNMARKED,
            instance_cell,
            app_cell,
            repo_cell,
            tag_cell,
            status_cell,
            caprover_cell,
        )
        if self.with_drift:
            drift = row.drift
            state = drift.state if drift is not None else ""
            cells += (
                self._text(("drift", state), lambda: safe_text(state, widths["drift"])),
            )
        return cells


def _same_cell(old: Text, new: Text) -> bool:
    return old is new or (old == new and old.style == new.style)


class FleetTable(DataTable[Text]):
    def __init__(self, *, with_drift: bool = False, id: str | None = None) -> None:
        super().__init__(
            id=id, cursor_type="row", zebra_stripes=False, cursor_foreground_priority="renderable",
            cell_padding=0,
        )
        self.with_drift = with_drift
        self._rendered: dict[str, tuple[Text, ...]] = {}  # the rows shown, in no order
        self._shown: list[str] = []  # the rows shown, in order
        self.widths: dict[str, int] = {}
        self._maker = CellMaker(self.widths, with_drift)
        # Each distinct cell drawn at a width, without the row's styles: (cell, lines).
        self._cell_lines: dict[tuple[int, int], tuple[Text, SegmentLines]] = {}
        self._pending_cursor_key: str | None = None  # kept across a rebuild of the columns
        # Until the operator moves the cursor it stays on the first row: following the key
        # of whichever row arrived first (an unreachable server answers first) left it in
        # the middle of the fleet once every row was in.
        self._cursor_chosen = False
        self._syncing = False

    def on_mount(self) -> None:
        self._add_columns()

    def _add_columns(self) -> None:
        columns = list(COLUMNS)
        if self.with_drift:
            columns = [
                Column(c.key, c.label, REPOSITORY_WITH_DRIFT) if c.key == "repository" else c
                for c in columns
            ] + [DRIFT]
        self.widths = {column.key: column.width for column in columns}
        self._maker = CellMaker(self.widths, self.with_drift)
        for column in columns:
            self.add_column(column.label, width=column.width + 1, key=column.key)

    def enable_drift(self) -> None:
        """Add the drift column: the columns are rebuilt, and the next sync re-adds every row."""
        if self.with_drift:
            return
        cursor_key = self.cursor_key()
        self.with_drift = True
        self.clear(columns=True)
        self._rendered.clear()
        self._shown = []
        self._cell_lines.clear()
        self._add_columns()
        self._pending_cursor_key = cursor_key

    def forget(self) -> None:
        """Drop the cells kept for reuse (the idle lock: they hold what the servers said)."""
        self._maker.forget()
        self._cell_lines.clear()

    # -- the cursor, by key ---------------------------------------------------------------

    def watch_cursor_coordinate(self, old: Coordinate, new: Coordinate) -> None:
        super().watch_cursor_coordinate(old, new)
        if old != new and not self._syncing:
            self._cursor_chosen = True

    def cursor_key(self) -> str | None:
        if self.row_count == 0:
            return None
        try:
            row_key = self.coordinate_to_cell_key(Coordinate(self.cursor_row, 0)).row_key
        except RowDoesNotExist:
            return None
        return row_key.value

    def move_to_key(self, key: str) -> None:
        try:
            index = self.get_row_index(key)
        except RowDoesNotExist:
            return
        self.move_cursor(row=index, animate=False)

    def visible_keys(self) -> list[str]:
        return [row_key.value or "" for row_key in self._row_locations]

    # -- writing the model in ----------------------------------------------------------------

    def sync(self, model: FleetModel, changes: Changes, now: float) -> None:
        """Bring the table to the model: rows shown, their order, then changed cells."""
        visible = model.visible_keys()
        cursor_key = self.cursor_key() or self._pending_cursor_key
        self._pending_cursor_key = None
        cursor_index = self.cursor_row
        if visible != self._shown:
            self._syncing = True
            try:
                self._reshape(model, visible, now)
                if not self._cursor_chosen and self.row_count:
                    self.move_cursor(row=0, animate=False)
                elif cursor_key is not None and cursor_key in self._rendered:
                    self.move_to_key(cursor_key)
                elif self.row_count:
                    self.move_cursor(row=min(cursor_index, self.row_count - 1), animate=False)
            finally:
                self._syncing = False
        rendered = self._rendered
        changed = False
        column_keys = list(self.widths)
        for key in changes.cells:
            old = rendered.get(key)
            if old is None:
                continue
            new = self._cells(model, key, now)
            if new is old:
                continue
            data = self._data[RowKey(key)]
            for column_key, old_cell, new_cell in zip(column_keys, old, new, strict=True):
                if not _same_cell(old_cell, new_cell):
                    # update_cell, minus its per-call checks and refresh: one refresh below.
                    data[column_key] = new_cell  # type: ignore[index]
                    changed = True
            rendered[key] = new
        if changed:
            self._update_count += 1
            self.refresh()
        if not model.rows:
            self.forget()

    def _cells(self, model: FleetModel, key: str, now: float) -> tuple[Text, ...]:
        return self._maker.row(model.rows[key], key in model.marks, now)

    def _reshape(self, model: FleetModel, visible: list[str], now: float) -> None:
        """Show exactly ``visible``, in order; rows that stay keep their cells.

        DataTable's own add_row measures every new cell for auto-width columns on idle and
        remove_row is O(N) per row; the columns here have fixed widths, so rows go straight
        into the table's row index, data and row list.
        """
        wanted = set(visible)
        rendered = self._rendered
        data = self._data
        rows = self.rows
        updated_cells = self._updated_cells  # only update_cell(update_width=True) fills it
        for key in [key for key in rendered if key not in wanted]:
            row_key = RowKey(key)
            if updated_cells:
                for column_key in data.get(row_key, {}):
                    updated_cells.discard(CellKey(row_key, column_key))
            rows.pop(row_key, None)
            data.pop(row_key, None)
            self._new_rows.discard(row_key)
            del rendered[key]
        column_keys = list(self.columns)
        for key in visible:
            if key not in rendered:
                cells = self._cells(model, key, now)
                row_key = RowKey(key)
                data[row_key] = dict(zip(column_keys, cells, strict=True))
                rows[row_key] = Row(row_key, 1, None, False)
                rendered[key] = cells
        self._row_locations = TwoWayDict(
            {RowKey(key): index for index, key in enumerate(visible)}
        )
        was_empty = not self._shown
        self._shown = list(visible)
        self._update_count += 1
        # No cell needs measuring: only the virtual size changes, so set it now (and the
        # cursor can scroll to its row right away instead of after the next idle).
        self._update_dimensions(())
        self._require_update_dimensions = False
        self.cursor_coordinate = self.cursor_coordinate  # clamps into the new row count
        if was_empty and visible and self.show_cursor:
            self._highlight_cursor()  # as add_row does for a table's first row
        self.refresh(layout=True)

    # -- drawing ---------------------------------------------------------------------------

    def _render_cell(
        self,
        row_index: int,
        column_index: int,
        base_style: Style,
        width: int,
        cursor: bool = False,
        hover: bool = False,
    ) -> SegmentLines:
        """DataTable's ``_render_cell`` with the Rich rendering of each cell done once.

        DataTable renders every visible cell again after any change (its cache keys hold
        ``_update_count``), ~0.1 ms a cell through Rich. Here a cell's lines without the
        row's styles are kept per cell object and width, and only the styles are applied
        again: the same segments (tests/tui/test_table_speed.py compares them), a fraction of the
        time. Headers, labels and anything but a one-line ``Text`` take Textual's own path.
        """
        if row_index < 0 or column_index < 0 or self.cell_padding:
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        row_key = self._row_locations.get_key(row_index)
        column_key = self._column_locations.get_key(column_index)
        if row_key is None or column_key is None:
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        cache_key = (
            row_key,
            column_key,
            base_style,
            cursor,
            hover,
            self._show_hover_cursor,
            self._update_count,
            self._pseudo_class_state,
        )
        lines = self._cell_render_cache.get(cache_key)
        if lines is not None:
            return lines
        row = self.rows.get(row_key)
        cell = self._data.get(row_key, {}).get(column_key)
        if row is None or row.height != 1 or type(cell) is not Text:
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        plain = self._plain_lines(cell or _EMPTY_TEXT, width)  # as DataTable: "" is no style
        component_style, post_style = self._get_styles_to_render_cell(
            False,
            False,
            row_index < self.fixed_rows or column_index < self.fixed_columns,
            hover,
            cursor,
            self.show_cursor,
            self._show_hover_cursor,
            self.cursor_foreground_priority == "css",
            self.cursor_background_priority == "css",
        )
        pre_style = (
            base_style + Style.from_meta({"row": row_index, "column": column_index})
        ) + component_style
        lines = [list(Segment.apply_style(line, pre_style, post_style)) for line in plain]
        self._cell_render_cache[cache_key] = lines
        return lines

    def _plain_lines(self, cell: Text, width: int) -> SegmentLines:
        """What Textual renders for the cell before it layers the row's styles on it."""
        key = (id(cell), width)
        entry = self._cell_lines.get(key)
        if entry is not None and entry[0] is cell:
            return entry[1]
        console = self.app.console
        options = self.app.console_options.update_dimensions(width, 1).update(no_wrap=True)
        lines = console.render_lines(Padding(cell, (0, self.cell_padding)), options)
        if len(self._cell_lines) > 20_000:
            self._cell_lines.clear()
        self._cell_lines[key] = (cell, lines)
        return lines
