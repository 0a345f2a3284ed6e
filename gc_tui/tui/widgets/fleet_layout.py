"""The fleet table's columns and how wide each is at a given terminal width.

No Textual here: ``layout`` is a pure function of the columns, the width each one's content
wants and the room there is, so the rules can be read and tested in one place
(docs/tui.md, "Column widths").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

GAP = 1  # blank cells between two columns
SORT_MARK_WIDTH = 2  # " ↑" after the label of the column the table is sorted by


@dataclass(frozen=True)
class Column:
    key: str  # the cell's key; the sortable ones equal fleet_model.SortColumn's values
    label: str
    floor: int  # the narrowest it gets before a column is hidden or the edge cuts it
    give_way: int = 0  # 0: always shown; 1 narrows and hides first, then 2
    keep_end: bool = False  # cut at the start: repositories and tags differ at the end


@dataclass(frozen=True)
class Placed:
    column: Column
    width: int


MARK = Column("mark", "", 1)
COLUMNS: tuple[Column, ...] = (
    MARK,
    Column("instance", "INSTANCE", 8),
    Column("app", "APP", 8),
    Column("image", "IMAGE", 10, give_way=1, keep_end=True),
    Column("tag", "TAG", 8, keep_end=True),
    # What the registry says: "↑ 20260815-1002" when behind (fleet_cells.newest_word).
    Column("newest", "NEWEST", 8, give_way=3, keep_end=True),
    Column("status", "STATUS", 11),  # "unreachable" and "auth failed" whole
    Column("caprover", "CAPROVER", 8, give_way=2),
)
DRIFT = Column("drift", "DRIFT", 7)


def columns_for(with_drift: bool) -> tuple[Column, ...]:
    return (*COLUMNS, DRIFT) if with_drift else COLUMNS


def label_width(column: Column) -> int:
    return len(column.label) + SORT_MARK_WIDTH if column.label else 1


def layout(
    columns: Sequence[Column], natural: Mapping[str, int], width: int
) -> tuple[Placed, ...]:
    """Each shown column and its width, in order, for ``width`` cells.

    Every column wants its widest cell (``natural``) or its label. The columns that never
    give way get what they want; the first to give way (IMAGE) takes what is left, up to
    what it wants (room beyond that stays blank at the right rather than between IMAGE and
    TAG), the next (CAPROVER) at most what it wants. When that does not fit, the columns
    that give way narrow to their floors, then hide in turn. When even the rest does not
    fit, the widest of them loses a cell at a time, down to its floor; past that the
    terminal's edge cuts.
    """
    wanted = {column.key: max(natural.get(column.key, 0), label_width(column))
              for column in columns}
    givers = sorted((column for column in columns if column.give_way),
                    key=lambda column: column.give_way)
    for hidden in range(len(givers) + 1):
        gone = {column.key for column in givers[:hidden]}
        shown = [column for column in columns if column.key not in gone]
        flexible = givers[hidden:]
        room = width - GAP * (len(shown) - 1) - sum(
            wanted[column.key] for column in shown if not column.give_way
        )
        if room >= sum(column.floor for column in flexible):
            widths = {column.key: wanted[column.key] for column in shown}
            widths.update(_share(flexible, wanted, room))
            return tuple(Placed(column, widths[column.key]) for column in shown)
    return _squeeze([column for column in columns if not column.give_way], wanted, width)


def _share(flexible: Sequence[Column], wanted: Mapping[str, int], room: int) -> dict[str, int]:
    """``room`` among the columns that give way: the first takes what the others leave."""
    widths: dict[str, int] = {}
    if not flexible:
        return widths
    first, rest = flexible[0], flexible[1:]
    left = room
    for index in range(len(rest) - 1, -1, -1):  # the last to give way is served first
        column = rest[index]
        before = first.floor + sum(other.floor for other in rest[:index])
        widths[column.key] = max(column.floor, min(wanted[column.key], left - before))
        left -= widths[column.key]
    widths[first.key] = min(left, max(first.floor, wanted[first.key]))
    return widths


def _squeeze(
    shown: Sequence[Column], wanted: Mapping[str, int], width: int
) -> tuple[Placed, ...]:
    widths = {column.key: wanted[column.key] for column in shown}
    excess = sum(widths.values()) + GAP * (len(shown) - 1) - width
    while excess > 0:
        narrowable = [column for column in shown if widths[column.key] > column.floor]
        if not narrowable:
            break
        widest = max(narrowable, key=lambda column: widths[column.key])
        widths[widest.key] -= 1
        excess -= 1
    return tuple(Placed(column, widths[column.key]) for column in shown)
