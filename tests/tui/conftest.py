"""Fixtures of the TUI tests; the helpers they use live in ``harness`` and ``canned``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.tui.harness import Fleet, fast_demo_instances, start_fleet


@pytest.fixture
def demo_fleet(tmp_path: Path) -> Iterator[Fleet]:
    with start_fleet(tmp_path, fast_demo_instances()) as fleet:
        yield fleet
