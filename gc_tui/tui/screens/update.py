"""The CapRover update dialog: each instance's from -> to, what is skipped and why, the warning.

As the deploy dialog does, it fits any terminal: the list scrolls between the title and the
buttons, and reasons wrap. Focus starts on Cancel, or on the count field when the batch is
big enough to type its size. When nothing can be updated (read-only, busy, already current)
there is no Update button at all, only the reasons.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.events import Resize
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from gc_tui.core.plan import Plan
from gc_tui.core.update import caprover_version
from gc_tui.tui.safe import safe_text
from gc_tui.tui.screens.fit import fit_dialog
from gc_tui.tui.widgets.count_gate import CountGate

RESTART_WARNING = "Apps may be unreachable for a short time while CapRover restarts."


def update_text(plan: Plan) -> Text:
    """Every instance that will update, then every skipped one with its whole reason."""
    text = Text()
    width = min(30, max((len(row.instance) for row in plan.rows + plan.skipped), default=0))
    for row in plan.rows:
        name = safe_text(row.instance, 40, style="bold")
        name.pad_right(max(0, width - len(name)))
        text.append_text(name)
        text.append("  ")
        text.append_text(safe_text(caprover_version(row.from_image) or "?", 12))
        text.append(" → ")
        text.append_text(safe_text(caprover_version(row.to_image) or "?", 12, style="bold"))
        text.append("\n")
    if plan.skipped:
        text.append(f"\n{plan.skip_summary()}\n", style="bold")
    for skipped in plan.skipped:
        name = safe_text(skipped.instance, 40)
        name.pad_right(max(0, width - len(name)))
        text.append_text(name)
        text.append("  ")
        text.append_text(safe_text(caprover_version(skipped.from_image) or "", 12))
        text.append("  ")
        text.append_text(safe_text(skipped.reason, style="italic"))
        text.append("\n")
    return text


class UpdateScreen(ModalScreen[Plan | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="update.cancel")]

    def __init__(self, plan: Plan, *, off_reason: str | None = None) -> None:
        super().__init__(id="update-screen")
        self.plan = plan
        self.off_reason = off_reason  # read-only: why updating is off altogether

    @property
    def can_update(self) -> bool:
        return self.off_reason is None and bool(self.plan.rows)

    def compose(self) -> ComposeResult:
        plan = self.plan
        with Vertical(classes="dialog", id="update-dialog"):
            title = Text("Update CapRover", style="bold")
            title.append(
                f" on {len(plan.rows)} instance(s)" + (
                    f", {len(plan.skipped)} skipped" if plan.skipped else ""
                ),
            )
            yield Static(title, classes="dialog-title")
            with VerticalScroll(id="update-scroll", classes="dialog-scroll"):
                yield Static(update_text(plan), id="update-rows")
            with Vertical(id="update-bottom"):
                if plan.rows:
                    yield Static(Text(RESTART_WARNING, style="bold"), id="update-warning")
                yield CountGate("Update", "instances", input_id="update-count")
                if self.off_reason:
                    yield Static(Text(self.off_reason, style="bold reverse"),
                                 id="read-only-reason")
                elif not plan.rows:
                    yield Static(Text("Nothing to update: every selected instance is skipped.",
                                      style="bold"), id="update-nothing")
                with Horizontal(classes="dialog-buttons"):
                    yield Button("Cancel", id="cancel", variant="primary")
                    if self.can_update:
                        yield Button(f"Update {len(plan.rows)}", id="update", variant="error")

    def on_mount(self) -> None:
        fit_dialog(self, self.app.size.height)
        gate = self.query_one(CountGate)
        gate.require(len(self.plan.rows), enabled=self.can_update)
        self._count_changed()
        if gate.needed:
            gate.focus_field()
        else:
            self.query_one("#cancel", Button).focus()

    def on_resize(self, event: Resize) -> None:
        fit_dialog(self, event.size.height)

    @on(Input.Changed, "#update-count")
    def _count_changed(self) -> None:
        if self.can_update:
            self.query_one("#update", Button).disabled = not self.query_one(CountGate).satisfied

    @on(Input.Submitted, "#update-count")
    def _count_submitted(self) -> None:
        self.query_one("#cancel", Button).focus()  # Enter never updates by itself

    @on(Button.Pressed, "#update")
    def _update(self) -> None:
        if self.can_update and self.query_one(CountGate).satisfied:
            self.dismiss(self.plan)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
