"""The one-line fleet summary above the table: counts, marks, the active filter, activity."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.widgets import Static

from gc_tui.tui.filter import Filter
from gc_tui.tui.fleet_model import Counts
from gc_tui.tui.fleet_rows import Tone
from gc_tui.tui.fleet_sort import DEFAULT_SORT, SortOrder
from gc_tui.tui.safe import safe_text
from gc_tui.tui.widgets.fleet_cells import PLAIN_STYLES
from gc_tui.tui.widgets.tones import TONE_CLASSES, tone_styles


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def summary_text(
    counts: Counts, active_filter: Filter, *, auditing: int, read_only: bool,
    sort: SortOrder = DEFAULT_SORT, tones: Mapping[Tone, Style] = PLAIN_STYLES.tones,
) -> Text:
    """``tones``: how each state looks (tone_styles), as in the table."""
    plain = Style()
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(f"{plural(counts.instances, 'instance')}: ")
    text.append(f"{counts.ok} ok", style=tones[Tone.OK])
    text.append(", ")
    text.append(f"{counts.failed} failed", style=tones[Tone.FAILED] if counts.failed else plain)
    pending = counts.instances - counts.answered
    if pending > 0:
        text.append(f", {pending} pending", style=tones[Tone.ACTIVE])
    text.append(f" │ {counts.apps} apps │ ")
    text.append(f"{counts.manual} manual", style=tones[Tone.MANUAL] if counts.manual else plain)
    text.append(" │ ")
    text.append(f"{counts.marked} marked", style="bold" if counts.marked else "")
    if counts.deploying:
        text.append(" │ ")
        text.append(f"{counts.deploying} deploying", style=tones[Tone.ACTIVE])
    if counts.updating:
        text.append(" │ ")
        text.append(f"CapRover updating on {counts.updating}", style=tones[Tone.ACTIVE])
    if auditing:
        text.append(" │ ")
        text.append(f"auditing {plural(auditing, 'instance')}…", style=tones[Tone.ACTIVE])
    if read_only:
        text.append(" │ ")
        text.append("READ-ONLY", style="bold reverse")
    if active_filter.active:
        text.append(" │ filter: ")
        text.append_text(safe_text(active_filter.text, 40, style="bold"))
        if active_filter.literal:
            text.append(" (not a regex: plain text)", style="dim")
        text.append(f" ({counts.visible} shown)")
    if sort != DEFAULT_SORT:
        text.append(" │ sort: ")
        text.append(f"{sort.column or 'vault order'} {'↓' if sort.descending else '↑'}",
                    style="bold")
    return text


class FleetHeader(Static):
    COMPONENT_CLASSES: ClassVar[set[str]] = set(TONE_CLASSES.values())

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._tones: dict[Tone, Style] | None = None  # resolved once per style change

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._tones = None

    def show(
        self, counts: Counts, active_filter: Filter, *, auditing: int, read_only: bool,
        sort: SortOrder = DEFAULT_SORT,
    ) -> None:
        self.update(summary_text(counts, active_filter, auditing=auditing, read_only=read_only,
                                 sort=sort, tones=self._tone_styles()))

    def _tone_styles(self) -> dict[Tone, Style]:
        if self._tones is None:
            self._tones = tone_styles(self)
        return self._tones
