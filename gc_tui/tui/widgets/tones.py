"""How a state word looks: one component class per tone, styled in app.tcss.

The styles are theme colours chosen for contrast (docs/tui.md, "Readable states"); a widget
that shows state words declares ``TONE_CLASSES`` among its component classes and reads them
with ``tone_styles``.
"""

from __future__ import annotations

from rich.style import Style
from textual.widget import Widget

from gc_tui.tui.fleet_rows import Tone

TONE_CLASSES = {tone: f"tone--{tone.value}" for tone in Tone}


def component_style(widget: Widget, name: str) -> Style:
    """What the component class's rules set, with their colours as drawn on the widget.

    A partial style alone would lose a colour's alpha (``$primary 15%`` comes out as the
    whole primary) and the full one carries the widget's background into every cell.
    """
    partial = widget.get_component_rich_style(name, partial=True)
    full = widget.get_component_rich_style(name)
    return partial + Style(
        color=full.color if partial.color is not None else None,
        bgcolor=full.bgcolor if partial.bgcolor is not None else None,
    )


def tone_styles(widget: Widget) -> dict[Tone, Style]:
    """Each tone's style as the widget's CSS resolves it."""
    return {tone: component_style(widget, name) for tone, name in TONE_CLASSES.items()}
