"""Ask where to export the visible rows, and in which format."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, RadioButton, RadioSet, Static

from gc_tui.tui.export import ExportFormat


@dataclass(frozen=True)
class ExportRequest:
    path: Path
    fmt: ExportFormat


class ExportScreen(ModalScreen[ExportRequest | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="export.cancel")]

    def __init__(self, visible_rows: int, default_path: Path) -> None:
        super().__init__(id="export-screen")
        self.visible_rows = visible_rows
        self.default_path = default_path

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(f"Export {self.visible_rows} visible rows", style="bold"),
                         classes="dialog-title")
            yield Label("File (created 0600; an existing file is never overwritten)")
            yield Input(value=str(self.default_path), id="export-path")
            with RadioSet(id="export-format"):
                yield RadioButton("CSV", value=True, id="fmt-csv")
                yield RadioButton("JSON", id="fmt-json")
            yield Static("", id="export-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Export", id="export", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#export-path", Input).focus()

    def _format(self) -> ExportFormat:
        pressed = self.query_one(RadioSet).pressed_button
        return ExportFormat.JSON if pressed is not None and pressed.id == "fmt-json" else (
            ExportFormat.CSV
        )

    @on(RadioSet.Changed)
    def _format_changed(self) -> None:
        path_input = self.query_one("#export-path", Input)
        path = Path(path_input.value)
        if path.suffix.lower() in (".csv", ".json"):
            path_input.value = str(path.with_suffix(f".{self._format()}"))

    @on(Input.Submitted, "#export-path")
    @on(Button.Pressed, "#export")
    def _export(self) -> None:
        value = self.query_one("#export-path", Input).value.strip()
        if not value:
            self.show_error("Enter a file name.")
            return
        if Path(value).expanduser().exists():
            self.show_error("That file exists; choose another name (nothing is overwritten).")
            return
        self.dismiss(ExportRequest(Path(value).expanduser(), self._format()))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)

    def show_error(self, message: str) -> None:
        self.query_one("#export-error", Static).update(Text(message, style="bold red"))
