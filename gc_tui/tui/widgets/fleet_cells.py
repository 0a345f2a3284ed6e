"""The fleet table's cells: what each column says for a row, as inert ``Text``.

Cells hold the whole value; the table cuts them to the column's width when it draws, so a
resize never rebuilds a row. Every server string goes through ``safe_text``. Colours are
not chosen here: ``CellStyles`` carries the table's resolved styles (app.tcss).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field

from rich.style import Style
from rich.text import Text

from gc_tui.core.upstream import UpstreamState
from gc_tui.tui.fleet_rows import FleetRow, RowKind, Tone
from gc_tui.tui.safe import safe_text
from gc_tui.tui.widgets.fleet_layout import columns_for

MARK_GLYPH = "●"
_PLAIN = Style()


def _plain_tones() -> dict[Tone, Style]:
    return {tone: _PLAIN for tone in Tone}


@dataclass(frozen=True)
class CellStyles:
    """The cells' styles, one per tone plus the few that are not a state."""

    tones: Mapping[Tone, Style] = field(default_factory=_plain_tones)
    manual_image: Style = _PLAIN  # the image of a server build (img-captain-…)
    muted: Style = _PLAIN  # an instance row's dash and reason
    mark: Style = _PLAIN
    update_available: Style = _PLAIN  # " ↑1.15.3" in the CapRover column


PLAIN_STYLES = CellStyles()


def format_elapsed(seconds: float | None) -> str:
    if seconds is None:
        return ""
    whole = int(seconds)
    if whole < 100:
        return f"{whole}s"
    return f"{whole // 60}m{whole % 60:02d}"


WARNING_SIGN = "⚠"


def status_word(row: FleetRow, now: float) -> str:
    """The status cell's words: the state, the elapsed time while a deploy shows, and
    ``⚠`` when the vault entry has warnings (enter shows them)."""
    word = row.status.word
    if row.deploy is not None and not row.update_shown:
        elapsed = format_elapsed(row.deploy.elapsed(now))
        if elapsed:
            word = f"{word} {elapsed}"
    return f"{word} {WARNING_SIGN}" if row.instance_warnings else word


def styled(value: object, style: Style) -> Text:
    text = safe_text(value)
    text.style = style
    return text


def status_text(row: FleetRow, now: float, styles: CellStyles = PLAIN_STYLES) -> Text:
    return styled(status_word(row, now), styles.tones[row.status.tone])


CapRoverParts = tuple[str, str | None, str | None]


def caprover_parts(row: FleetRow) -> CapRoverParts:
    """Everything the CapRover cell shows: ("update", from, to), ("version", current, latest)."""
    update = row.update
    if update is not None and not update.final and update.to_version:
        return ("update", update.from_version or "", update.to_version)
    if row.version is None:
        return ("none", None, None)
    return ("version", row.version.current, row.version.latest if row.update_available else None)


def caprover_text(row: FleetRow, styles: CellStyles = PLAIN_STYLES) -> Text:
    """The version; ``from→to`` while an update runs; ``current ↑latest`` when one exists.

    The arrow and the second version say it without colour.
    """
    return _caprover_text(caprover_parts(row), styles)


def _caprover_text(parts: CapRoverParts, styles: CellStyles) -> Text:
    kind, first, second = parts
    if kind == "none":
        return Text("")
    if kind == "update":
        running = styles.tones[Tone.ACTIVE]
        text = styled(first, running)
        text.append("→", style=running)
        text.append_text(styled(second, running))
        return text
    text = safe_text(first)
    if second is not None:
        text.append(" ↑", style=styles.update_available)
        text.append_text(styled(second, styles.update_available))
    return text


# The upstream state as a sign before the newest tag: readable without colour, and one cell.
_UPSTREAM_SIGNS = {
    UpstreamState.BEHIND: "↑",
    UpstreamState.REPUSHED: "↻",
    UpstreamState.CURRENT: "=",
    UpstreamState.FLOATING: "~",
}


def newest_word(row: FleetRow) -> str:
    """The NEWEST cell: ``↑ 20260815-1002`` (behind), ``↻`` (re-pushed), ``=`` (current),
    ``~`` (floating), ``? registry unreachable`` (unknown: the reason); blank until the
    repository's registry has answered."""
    upstream = row.upstream
    if row.kind is not RowKind.APP or row.manual or upstream is None:
        return ""
    sign = _UPSTREAM_SIGNS.get(upstream.state)
    if sign is not None and upstream.newest:
        return f"{sign} {upstream.newest}"
    if upstream.state is UpstreamState.UNKNOWN:
        problem = upstream.error.problem if upstream.error is not None else "unknown"
        return f"? {problem}"
    return ""


def _reason(row: FleetRow) -> str:
    return row.instance_error or ("no apps" if row.instance_status == "ok" else "")


def render_row(
    row: FleetRow, marked: bool, now: float, styles: CellStyles, with_drift: bool
) -> tuple[Text, ...]:
    """The cells of one row, in the order of ``columns_for(with_drift)``."""
    repository, tag = row.image_parts
    image_style = styles.manual_image if row.manual else _PLAIN
    if row.kind is RowKind.INSTANCE:
        app_cell = Text("—", style=styles.muted)
        image_cell = styled(_reason(row), styles.muted)
        tag_cell = Text("")
    else:
        app_cell = safe_text(row.app_name)
        image_cell = styled(repository, image_style)
        tag_cell = styled(tag, image_style)
    cells = [
        Text(MARK_GLYPH if marked else "", style=styles.mark),
        safe_text(row.instance),
        app_cell,
        image_cell,
        tag_cell,
        safe_text(newest_word(row)),
        status_text(row, now, styles),
        caprover_text(row, styles),
    ]
    if with_drift:
        drift = row.drift
        cells.append(safe_text(drift.state if drift is not None else ""))
    return tuple(cells)


class CellMaker:
    """``render_row`` with every cell built once per distinct content and shared by rows.

    A fleet repeats itself (a dozen app names, a few images and versions, one status word per
    state), so a row is a handful of dict lookups instead of a dozen ``Text`` built through
    ``printable``. The cells equal ``render_row``'s (tests/tui/test_table_speed.py compares
    them); nothing mutates a cell once built, so sharing one is safe, and a row whose cells
    are the same objects as before has not changed. ``widest`` is each column's widest cell
    so far: what the layout gives the column. ``forget`` drops it all (the idle lock: the
    cells hold server text).
    """

    def __init__(self, styles: CellStyles, with_drift: bool) -> None:
        self.styles = styles
        self.with_drift = with_drift
        self.keys = tuple(column.key for column in columns_for(with_drift))
        self.widest: dict[str, int] = {}
        self._texts: dict[Hashable, Text] = {}
        self._marks = (Text("", style=styles.mark), Text(MARK_GLYPH, style=styles.mark))
        self._dash = Text("—", style=styles.muted)
        self._empty = Text("")

    def forget(self) -> None:
        self._texts.clear()
        self.widest.clear()

    def __len__(self) -> int:
        return len(self._texts)

    def _text(self, column: str, content: Hashable, build: Callable[[], Text]) -> Text:
        key = (column, content)
        text = self._texts.get(key)
        if text is None:
            text = self._texts[key] = build()
            if text.cell_len > self.widest.get(column, 0):
                self.widest[column] = text.cell_len
        return text

    def row(self, row: FleetRow, marked: bool, now: float) -> tuple[Text, ...]:
        styles = self.styles
        instance = row.instance
        instance_cell = self._text("instance", instance, lambda: safe_text(instance))
        if row.kind is RowKind.INSTANCE:
            reason = _reason(row)
            app_cell = self._dash
            image_cell = self._text("image", ("reason", reason),
                                    lambda: styled(reason, styles.muted))
            tag_cell = self._empty
        else:
            app_name = row.app_name
            app_cell = self._text("app", app_name, lambda: safe_text(app_name))
            repository, tag = row.image_parts
            image_style = styles.manual_image if row.manual else _PLAIN
            image_cell = self._text("image", (repository, row.manual),
                                    lambda: styled(repository, image_style))
            tag_cell = self._text("tag", (tag, row.manual), lambda: styled(tag, image_style))
        newest = newest_word(row)
        newest_cell = self._text("newest", newest, lambda: safe_text(newest))
        word = status_word(row, now)
        tone = row.status.tone
        status_cell = self._text("status", (word, tone),
                                 lambda: styled(word, styles.tones[tone]))
        parts = caprover_parts(row)
        caprover_cell = self._text("caprover", parts, lambda: _caprover_text(parts, styles))
        cells: tuple[Text, ...] = (
            self._marks[marked],
            instance_cell,
            app_cell,
            image_cell,
            tag_cell,
            newest_cell,
            status_cell,
            caprover_cell,
        )
        if self.with_drift:
            drift = row.drift
            state = drift.state if drift is not None else ""
            cells += (self._text("drift", state, lambda: safe_text(state)),)
        return cells
