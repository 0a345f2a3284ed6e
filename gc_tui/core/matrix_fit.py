"""How a matrix fits a width: cut tags and app names, share the room among the columns.

Pure functions, no Textual: the TUI's matrix and ``audit --format matrix`` cut the same way
(docs/matrix.md, "Narrow terminals").
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from gc_tui.core.groups import base_name
from gc_tui.core.images import TagScheme, tag_scheme

ELLIPSIS = "…"
# Date-build tags differ at their end (the day and the run number); cut, they keep it.
_KEEP_END = frozenset({TagScheme.DATE_RUN, TagScheme.VERSION_TIMESTAMP})


def text_width(text: str) -> int:
    """Terminal cells: wide (East Asian) characters take two, combining marks none."""
    width = 0
    for char in text:
        if unicodedata.combining(char):
            continue
        width += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return width


def keep_start(text: str, width: int) -> str:
    """``text`` in ``width`` cells, cut at the end with an ellipsis."""
    if text_width(text) <= width:
        return text
    if width <= 1:
        return ELLIPSIS[:width]
    kept, used = [], 1
    for char in text:
        size = text_width(char)
        if used + size > width:
            break
        kept.append(char)
        used += size
    return "".join(kept) + ELLIPSIS


def keep_end(text: str, width: int) -> str:
    """``text`` in ``width`` cells, cut at the start with an ellipsis."""
    if text_width(text) <= width:
        return text
    if width <= 1:
        return ELLIPSIS[:width]
    kept: list[str] = []
    used = 1
    for char in reversed(text):
        size = text_width(char)
        if used + size > width:
            break
        kept.append(char)
        used += size
    return ELLIPSIS + "".join(reversed(kept))


def abbreviate_tag(tag: str, width: int) -> str:
    """A tag in ``width`` cells: date-build tags keep their end (``…0731-948``), the rest
    their start (``1.775…``), where versions differ from each other."""
    if tag_scheme(tag) in _KEEP_END:
        return keep_end(tag, width)
    return keep_start(tag, width)


def short_label(app: str, width: int) -> str:
    """An app name in ``width`` cells. A service group's members share their start
    (``superset-worker``, ``superset-init-and-beat``), so they keep their end."""
    if base_name(app) != app:
        return keep_end(app, width)
    return keep_start(app, width)


def fit_widths(natural: Sequence[int], floors: Sequence[int], room: int) -> list[int]:
    """Each column's width for ``room`` cells: what it wants when all fit, else the widest
    give way first, evenly, none below its floor (then the total may exceed ``room``)."""
    wanted = [max(want, floor) for want, floor in zip(natural, floors, strict=True)]
    if sum(wanted) <= room:
        return wanted

    def widths(cap: int) -> list[int]:
        return [min(want, max(cap, floor)) for want, floor in zip(wanted, floors, strict=True)]

    low, high = 0, max(wanted, default=0)
    while low < high:  # the largest cap whose widths fit
        middle = (low + high + 1) // 2
        if sum(widths(middle)) <= room:
            low = middle
        else:
            high = middle - 1
    shared = widths(low)
    spare = room - sum(shared)
    for index, want in enumerate(wanted):  # what the cap left over goes left to right
        if spare <= 0:
            break
        extra = min(spare, want - shared[index])
        if extra > 0:
            shared[index] += extra
            spare -= extra
    return shared


def cut_labels(
    cells: Sequence[int], labels: Sequence[int], floors: Sequence[int], label_floor: int
) -> list[int]:
    """Each column's width with its label cut (to ``label_floor``) and its cells whole."""
    return [max(cell, min(label, label_floor), floor)
            for cell, label, floor in zip(cells, labels, floors, strict=True)]


def share_room(
    cells: Sequence[int], labels: Sequence[int], floors: Sequence[int], room: int,
    label_floor: int,
) -> list[int]:
    """Column widths from their widest cell and their label: labels give way first (to
    ``label_floor``, or their cells' width), then cells, evenly, down to ``floors``."""
    whole = [max(cell, label) for cell, label in zip(cells, labels, strict=True)]
    short = cut_labels(cells, labels, floors, label_floor)
    if sum(short) <= room:
        return fit_widths(whole, short, room)
    return fit_widths(short, floors, room)


def panels(floors: Sequence[int], room: int) -> list[range]:
    """Consecutive columns that fit ``room`` at these widths: several when one does not."""
    found: list[range] = []
    start, used = 0, 0
    for index, floor in enumerate(floors):
        if index > start and used + floor > room:
            found.append(range(start, index))
            start, used = index, 0
        used += floor
    if start < len(floors):
        found.append(range(start, len(floors)))
    return found
