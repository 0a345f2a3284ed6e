"""The demo fleet data as packaged with gc-tui (docs/guardian-connector.md#the-demo-fleet)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PACKAGED = Path(__file__).resolve().parents[1] / "gc_tui" / "demo" / "data" / "demo_fleet.json"


def demo_fleet_data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(PACKAGED.read_text(encoding="utf-8"))
    return data


# The "apps differing from target" column of docs/guardian-connector.md#scenarios
# (fernridge and graniteflats do not answer, so the table has no count for them).
SCENARIO_DIFFERING = {
    "staging": 0,
    "alderbrook": 0,
    "bluecanyon": 8,
    "cedarmesa": 3,
    "driftwood": 9,
    "emberfalls": 9,
    "heronmarsh": 3,
    "ironwood": 7,
    "junipercreek": 0,
    "kestrelbay": 2,
}
