"""Sorting the fleet table by a column, k9s-style: the orders and how each column compares.

No Textual here. Ties keep the vault's order; numbers in names compare as numbers; STATUS puts
what needs attention first.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from gc_tui.tui.fleet_rows import FleetRow, Tone


class SortColumn(StrEnum):
    """A column the table sorts by; each value is the table's key for that column."""

    INSTANCE = "instance"
    APP = "app"
    IMAGE = "image"
    TAG = "tag"
    STATUS = "status"
    CAPROVER = "caprover"
    DRIFT = "drift"


@dataclass(frozen=True)
class SortOrder:
    """k9s's sort: one column, either way; no column is the default order (vault, then app)."""

    column: SortColumn | None = None
    descending: bool = False

    def next_column(self, columns: Sequence[SortColumn]) -> SortOrder:
        """The next of ``columns``, ascending; after the last one, the default order again."""
        index = columns.index(self.column) if self.column in columns else -1
        if index + 1 >= len(columns):
            return DEFAULT_SORT
        return SortOrder(columns[index + 1])

    def reversed(self) -> SortOrder:
        return replace(self, descending=not self.descending)


DEFAULT_SORT = SortOrder()

# The urgent states first when sorting by status, ascending.
_TONE_RANK = {Tone.FAILED: 0, Tone.ACTIVE: 1, Tone.MANUAL: 2, Tone.DONE: 3, Tone.OK: 4,
              Tone.MUTED: 5}


def _natural(text: str) -> tuple[tuple[int, int, str], ...]:
    """Digits compare as numbers ("1.9.0" before "1.13.1"); letters without case."""
    return tuple(
        (0, int(run), "") if run.isdigit() else (1, 0, run)
        for run in re.findall(r"\d+|\D+", text.casefold())
    )


SORT_VALUES: dict[SortColumn, Callable[[FleetRow], tuple[Any, ...]]] = {
    SortColumn.INSTANCE: lambda row: _natural(row.instance),
    SortColumn.APP: lambda row: _natural(row.app_name),
    SortColumn.IMAGE: lambda row: (_natural(row.image_parts[0]), _natural(row.image_parts[1])),
    SortColumn.TAG: lambda row: _natural(row.image_parts[1]),
    SortColumn.STATUS: lambda row: (_TONE_RANK[row.status.tone], row.status.word),
    SortColumn.CAPROVER: lambda row: _natural(row.version.current if row.version else ""),
    SortColumn.DRIFT: lambda row: _natural(str(row.drift.state) if row.drift is not None else ""),
}

