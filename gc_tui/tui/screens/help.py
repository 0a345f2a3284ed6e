"""Every key of the fleet screen, read from the same table as the footer and the palette."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from gc_tui.tui.actions import FLEET_ACTIONS, key_label


def help_table() -> Table:
    table = Table(show_header=False, box=None, padding=(0, 2, 0, 0), expand=True)
    table.add_column("key", style="bold", no_wrap=True, width=8)
    table.add_column("what", ratio=1)
    for action in FLEET_ACTIONS:
        table.add_row(key_label(action), action.help)
    table.add_row("ctrl+p", "Command palette: every action above, by name")
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "close", "Close", id="help.close"),
        Binding("q", "close", "Close", show=False, id="help.close-q"),
        Binding("question_mark", "close", "Close", show=False, id="help.close-help"),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static(Text("Keys", style="bold"), id="help-title")
            yield Static(help_table())
            yield Static(
                Text(
                    "Marked rows are shown with ●. Rows built on the server (img-captain-…) "
                    "say 'manual' and are skipped by deploys. Status words never rely on "
                    "colour. esc closes this.",
                    style="dim",
                )
            )

    def action_close(self) -> None:
        self.dismiss(None)
