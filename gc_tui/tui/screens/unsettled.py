"""Rows an earlier run left open (a crash, a dropped SSH session), and settling them.

Shown after unlocking when the journal holds such rows. ``r`` compares each with what its
server runs now (``core.reconcile``); the outcome is journaled and shown here, row by row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from gc_tui.core.journal import JournalRun
from gc_tui.core.reconcile import OPEN, Settlement
from gc_tui.tui.safe import safe_text

_STATE_STYLES = {"done": "bold green", "failed": "bold red", "cancelled": "bold red"}


def unsettled_text(runs: Sequence[JournalRun], settlements: Sequence[Settlement] = ()) -> Text:
    settled = {(s.run_id, s.row.key): s for s in settlements}
    text = Text()
    for run in runs:
        text.append(f"run {run.run_id}", style="bold")
        text.append(f"  {run.action}, started {run.started_at}")
        if run.user:
            text.append_text(safe_text(f" by {run.user}", 40))
        text.append("\n")
        for row in run.unsettled:
            text.append("  ")
            text.append_text(safe_text(f"{row.instance} / {row.app}", 60, style="bold"))
            text.append(": ")
            text.append_text(safe_text(row.to_image or "", 80))
            text.append(f"  (left at {row.state})", style="italic")
            outcome = settled.get((run.run_id, row.key))
            if outcome is not None:
                word = "still open" if outcome.state == OPEN else outcome.state
                text.append("\n    → ")
                text.append(word, style=_STATE_STYLES.get(outcome.state, "bold"))
                if outcome.error:
                    text.append(": ")
                    text.append_text(safe_text(outcome.error, 200, wrap=True))
            text.append("\n")
        text.append("\n")
    return text


class UnsettledScreen(ModalScreen[None]):
    """``r`` reconciles (through the App, which owns the session); escape closes."""

    BINDINGS = [
        Binding("r", "reconcile", "Reconcile now", id="unsettled.reconcile"),
        Binding("escape", "dismiss", "Later", id="unsettled.later"),
    ]

    def __init__(self, runs: Sequence[JournalRun], reconcile: Callable[[], None]) -> None:
        super().__init__(id="unsettled-screen")
        self.runs = list(runs)
        self._reconcile = reconcile
        self.settlements: tuple[Settlement, ...] = ()
        self.reconciling = False

    def compose(self) -> ComposeResult:
        rows = sum(len(run.unsettled) for run in self.runs)
        with Vertical(classes="dialog", id="unsettled-dialog"):
            yield Static(Text(f"{rows} row(s) of an earlier run never ended", style="bold"),
                         classes="dialog-title")
            yield Static(
                Text("gc-tui stopped while they ran (a crash, a lost terminal). Their servers "
                     "may have built them since. Press r to compare each with what its server "
                     "runs now; the outcome is added to the journal (gc-tui log).",
                     style="italic"),
                id="unsettled-help",
            )
            with VerticalScroll(id="unsettled-scroll"):
                yield Static(unsettled_text(self.runs), id="unsettled-body")
        yield Footer(compact=True)

    def action_reconcile(self) -> None:
        if self.reconciling or self.settlements:
            return
        self.reconciling = True
        self.query_one("#unsettled-help", Static).update(
            Text("Reconciling: reading each server…", style="italic")
        )
        self._reconcile()

    def show_settlements(self, settlements: Sequence[Settlement], error: str | None,
                         splits: Sequence[str] = ()) -> None:
        self.reconciling = False
        self.settlements = tuple(settlements)
        settled = sum(1 for s in settlements if s.state != OPEN)
        message = error or (
            f"{settled} of {len(settlements)} row(s) settled and journaled"
            + ("; the others are still open (run again later)." if settled < len(settlements)
               else ".")
            + "".join(f" {split}." for split in splits)
        )
        self.query_one("#unsettled-help", Static).update(safe_text(message, style="bold",
                                                                   wrap=True))
        self.query_one("#unsettled-body", Static).update(unsettled_text(self.runs, settlements))

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(None)
