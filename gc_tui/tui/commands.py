"""The command palette lists every fleet action by name, with its key."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from textual.app import App, SystemCommand
from textual.screen import Screen

from gc_tui.tui.actions import FLEET_ACTIONS, key_label


def fleet_commands(app: App[Any], screen: Screen[object]) -> Iterable[SystemCommand]:
    from gc_tui.tui.screens.fleet import FleetScreen

    if not isinstance(screen, FleetScreen):
        return
    for action in FLEET_ACTIONS:
        if action.action.startswith("app."):
            continue

        async def run(name: str = action.action) -> None:
            await screen.run_action(name)

        yield SystemCommand(action.label, f"{action.help} (key: {key_label(action)})", run)
