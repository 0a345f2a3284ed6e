"""Dialogs that fit any terminal: fields and buttons always on screen, the middle scrolls."""

from __future__ import annotations

from typing import Any

from textual.screen import Screen
from textual.widgets import Button, Checkbox, Input

SHORT_TERMINAL = 32  # rows; below it dialogs drop the borders of fields and buttons
# Rows a dialog spends outside its scrolling part (title, field, count, buttons, frame).
_FIXED_ROWS = {True: 12, False: 22}


def fit_dialog(screen: Screen[Any], height: int) -> None:
    """Compact fields and buttons below SHORT_TERMINAL rows, and a ``.dialog-scroll`` part
    never taller than what the rest leaves, so focusing the buttons never scrolls them away."""
    short = height < SHORT_TERMINAL
    screen.set_class(short, "-short")
    for widget in screen.query("Input, Button, Checkbox"):
        if isinstance(widget, (Input, Button, Checkbox)):
            widget.compact = short
    for scroll in screen.query(".dialog-scroll"):
        scroll.styles.max_height = max(3, height - _FIXED_ROWS[short])
