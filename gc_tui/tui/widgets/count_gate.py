"""Type the row count to enable a big batch: the guard shared by the deploy and update dialogs.

A batch is one Enter away from production; above CONFIRM_COUNT_ABOVE rows (the CLI's rule too)
the operator types how many rows will change, so a dialog confirmed by reflex changes nothing.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input, Static

from gc_tui.core.plan import CONFIRM_COUNT_ABOVE


class CountGate(Vertical):
    """Hidden for small batches; otherwise a line saying what to type, and the field."""

    def __init__(self, verb: str, noun: str, *, input_id: str) -> None:
        super().__init__(classes="count-gate")
        self.verb = verb  # the button it enables: "Deploy", "Update"
        self.noun = noun  # what is counted: "rows", "instances"
        self.input_id = input_id
        self.rows = 0

    def compose(self) -> ComposeResult:
        yield Static("", classes="count-label")
        yield Input(placeholder=f"{self.noun} count", id=self.input_id, type="integer")

    @property
    def needed(self) -> bool:
        return self.rows > CONFIRM_COUNT_ABOVE

    @property
    def satisfied(self) -> bool:
        return not self.needed or self.query_one(Input).value.strip() == str(self.rows)

    def require(self, rows: int, *, enabled: bool = True) -> None:
        """Ask for ``rows`` when the batch is big and acting is possible at all."""
        self.rows = rows if enabled else 0
        self.display = self.needed
        if self.needed:
            self.query_one(".count-label", Static).update(
                Text(f"{rows} {self.noun}: type {rows} to enable {self.verb}", style="bold")
            )

    def focus_field(self) -> None:
        self.query_one(Input).focus()
