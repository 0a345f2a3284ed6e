"""Which of the matrix's columns are on screen, and how wide each is.

No Textual here: a pure function of the apps, the widest text each column holds, the
terminal's width and the first column shown (docs/matrix.md, "Narrow terminals"). Columns get
their whole tags while they all fit; then labels and tags are cut (core/matrix_fit.py); when
even cut they do not fit, the view shows a window of them that follows the cursor.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from gc_tui.core.matrix_fit import share_room, text_width

CELL_PREFIX = 3  # the mark's slot, the state's glyph, a space; then the tag
TAG_FLOOR = 10  # "…0731-948": the day and the run number of a date-build tag
LABEL_FLOOR = 8  # "…-worker", "…-native"
NAME_LABEL = "INSTANCE"
EDGE = 1  # the line's last cell: "▸" while columns are hidden to the right


@dataclass(frozen=True)
class Window:
    name_width: int
    columns: tuple[tuple[str, int], ...]  # (app, width), left to right
    first: int  # the index of the first column shown
    total: int  # how many columns there are

    @property
    def more_left(self) -> bool:
        return self.first > 0

    @property
    def more_right(self) -> bool:
        return self.first + len(self.columns) < self.total

    def index_of(self, app: str) -> int | None:
        for offset, (shown, _) in enumerate(self.columns):
            if shown == app:
                return self.first + offset
        return None


def name_width(names: Sequence[str], width: int) -> int:
    """The instance column: its longest name, at most a quarter of the line."""
    widest = max([text_width(name) for name in names] + [len(NAME_LABEL)])
    return max(len(NAME_LABEL), min(widest, width // 4)) + 1


def _sizes(
    apps: Sequence[str], widths: Mapping[str, int]
) -> tuple[list[int], list[int], list[int]]:
    cells = [CELL_PREFIX + widths.get(app, 1) for app in apps]
    labels = [1 + text_width(app) for app in apps]
    floors = [CELL_PREFIX + min(widths.get(app, 1), TAG_FLOOR) for app in apps]
    return cells, labels, floors


def _fit(floors: Sequence[int], room: int, first: int) -> int:
    """How many columns from ``first`` fit ``room`` at their floors (one at least)."""
    used, count = 0, 0
    for floor in floors[first:]:
        if count and used + floor > room:
            break
        used += floor
        count += 1
    return count


def place(
    apps: Sequence[str], widths: Mapping[str, int], names: Sequence[str], width: int,
    first: int, cursor: int | None = None,
) -> Window:
    """The columns on screen from ``first``, moved so that column ``cursor`` is among them."""
    left = name_width(names, width)
    room = max(width - left - EDGE, 1)
    cells, labels, floors = _sizes(apps, widths)
    if sum(floors) <= room:
        first, count = 0, len(apps)
    else:
        first = max(0, min(first, len(apps) - 1))
        if cursor is not None and cursor < first:
            first = cursor
        count = _fit(floors, room, first)
        if cursor is not None and cursor >= first + count:
            first, used = cursor, floors[cursor]
            while first > 0 and used + floors[first - 1] <= room:
                first -= 1
                used += floors[first]
            count = _fit(floors, room, first)
    shown = range(first, first + count)
    shares = share_room([cells[i] for i in shown], [labels[i] for i in shown],
                        [floors[i] for i in shown], room, 1 + LABEL_FLOOR)
    columns = tuple((apps[i], share) for i, share in zip(shown, shares, strict=True))
    return Window(left, columns, first, len(apps))
