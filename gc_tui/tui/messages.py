"""What reaches the App from outside its handlers: the fleet operations' events."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from gc_tui.core.operations import OpsEvent


@dataclass
class OpsMessage(Message):
    """One event of ``core.operations.FleetOperations``, handled in the App's message order."""

    event: OpsEvent
