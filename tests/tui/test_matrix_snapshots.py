"""SVG snapshots of the matrix view on the canned demo fleet, at 80x24 and 200x50.

Update with: .venv/bin/python -m pytest tests/tui/test_matrix_snapshots.py --snapshot-update
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gc_tui.core.targets import save_targets, targets_from_mapping
from tests.demo_data import demo_fleet_data
from tests.tui.canned import app_for_snapshot, fleet_loaded


@pytest.fixture
def targets(tmp_path: Path) -> Path:
    path = tmp_path / "targets.toml"
    save_targets(path, targets_from_mapping(demo_fleet_data()["target_images"]))
    return path


@pytest.mark.parametrize("size", [(80, 24), (200, 50)], ids=["80x24", "200x50"])
def test_matrix(snap_compare, targets: Path, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await fleet_loaded(pilot)
        await pilot.press("m", "home", *["left"] * 20, "down", "down", *["right"] * 6)
        await pilot.press("space", "space", "up")  # bluecanyon and cedarmesa's superset marked
        await pilot.pause()

    assert snap_compare(app_for_snapshot(targets_path=targets), run_before=run_before,
                        terminal_size=size)
