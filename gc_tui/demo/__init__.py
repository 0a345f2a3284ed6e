"""The embedded demo: fake CapRover servers (one asyncio process, many ports) and a vault."""

from gc_tui.demo.catalog import demo_instances, demo_vault_entries, synthetic_fleet
from gc_tui.demo.fleet import FakeFleet, FakeFleetThread, ReceivedDeploy
from gc_tui.demo.instance import FakeApp, FakeInstance, Fault, RecordedRequest, RestartMode

__all__ = [
    "FakeApp",
    "FakeFleet",
    "FakeFleetThread",
    "FakeInstance",
    "Fault",
    "ReceivedDeploy",
    "RecordedRequest",
    "RestartMode",
    "demo_instances",
    "demo_vault_entries",
    "synthetic_fleet",
]
