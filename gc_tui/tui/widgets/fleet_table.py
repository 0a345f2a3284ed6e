"""The fleet table: one row per (instance, app), written from the model by key, in batches.

Follows tui-notes.md §3.2-3.3: fixed column widths, cells are ``Text`` (never markup), cells
are only rewritten when their rendering changed, the cursor follows its row key, and rows
are never cleared to refresh. Adding, hiding and reordering rows touches DataTable's row
index directly (O(N) once, where ``remove_row`` is O(N) per row): Textual is pinned, and
tests/tui/test_fleet_table.py covers it.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual._two_way_dict import TwoWayDict
from textual.coordinate import Coordinate
from textual.widgets import DataTable
from textual.widgets.data_table import CellKey, RowDoesNotExist, RowKey

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


def status_text(row: FleetRow, now: float, width: int = 20) -> Text:
    status = row.status
    word = status.word
    if row.deploy is not None and not row.update_shown:
        elapsed = format_elapsed(row.deploy.elapsed(now))
        if elapsed:
            word = f"{word} {elapsed}"
    return safe_text(word, width, style=TONE_STYLES[status.tone])


def caprover_text(row: FleetRow, width: int = 14) -> Text:
    """The version; ``from→to`` while an update runs; ``current ↑latest`` when one exists.

    The arrow and the second version say it without colour.
    """
    update = row.update
    if update is not None and not update.final and update.to_version:
        text = safe_text(update.from_version or "", 7, style="bold cyan")
        text.append("→", style="bold cyan")
        text.append_text(safe_text(update.to_version, max(1, width - len(text)), style="bold cyan"))
        return text
    if row.version is None:
        return Text("")
    text = safe_text(row.version.current, 8)
    if row.update_available:
        latest = safe_text(row.version.latest, max(1, width - len(text) - 2), style="bold yellow")
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


class FleetTable(DataTable[Text]):
    def __init__(self, *, with_drift: bool = False, id: str | None = None) -> None:
        super().__init__(
            id=id, cursor_type="row", zebra_stripes=False, cursor_foreground_priority="renderable",
            cell_padding=0,
        )
        self.with_drift = with_drift
        self._rendered: dict[str, tuple[Text, ...]] = {}
        self.widths: dict[str, int] = {}
        self._pending_cursor_key: str | None = None  # kept across a rebuild of the columns

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
        self._add_columns()
        self._pending_cursor_key = cursor_key

    # -- the cursor, by key ---------------------------------------------------------------

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
        structural = changes.structure or len(visible) != len(self._rendered)
        if not structural:
            structural = any(key not in self._rendered for key in visible)
        if structural:
            self._reshape(model, visible, now)
            if cursor_key is not None and cursor_key in self._rendered:
                self.move_to_key(cursor_key)
            elif self.row_count:
                self.move_cursor(row=min(cursor_index, self.row_count - 1), animate=False)
        for key in changes.cells:
            old = self._rendered.get(key)
            if old is None:
                continue
            new = self._cells(model, key, now)
            for column_key, old_cell, new_cell in zip(self.widths, old, new, strict=True):
                if old_cell != new_cell:
                    self.update_cell(key, column_key, new_cell)
            self._rendered[key] = new

    def _cells(self, model: FleetModel, key: str, now: float) -> tuple[Text, ...]:
        return render_row(model.rows[key], key in model.marks, now, self.widths, self.with_drift)

    def _reshape(self, model: FleetModel, visible: list[str], now: float) -> None:
        wanted = set(visible)
        gone = [key for key in self._rendered if key not in wanted]
        for key in gone:
            row_key = RowKey(key)
            for column_key in self._data.get(row_key, {}):
                self._updated_cells.discard(CellKey(row_key, column_key))
            self.rows.pop(row_key, None)
            self._data.pop(row_key, None)
            self._new_rows.discard(row_key)
            del self._rendered[key]
        kept = [key for key in visible if key in self._rendered]
        # add_row appends at row_count, so the index must be dense before adding.
        self._row_locations = TwoWayDict({RowKey(key): index for index, key in enumerate(kept)})
        for key in visible:
            if key not in self._rendered:
                cells = self._cells(model, key, now)
                self.add_row(*cells, key=key, height=1)
                self._rendered[key] = cells
        self._row_locations = TwoWayDict(
            {RowKey(key): index for index, key in enumerate(visible)}
        )
        self._require_update_dimensions = True
        self._update_count += 1
        self.cursor_coordinate = self.cursor_coordinate  # clamps into the new row count
        self.refresh(layout=True)
