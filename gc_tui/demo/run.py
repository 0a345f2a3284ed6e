"""``gc-tui demo``: the whole tool on a fleet of fake CapRover servers, with nothing to set up.

It starts the demo fleet on loopback, writes a throw-away vault and targets file into a
temporary folder, runs the asked-for command (the TUI by default) against them, and removes
everything on exit. Deploys are logged in that folder too, never in the real deploy log.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

DEMO_PASSWORD = "demo"
# Commands that take a targets file; the others would refuse the flag.
_TAKES_TARGETS = {"tui", "audit", "deploy", "targets"}


@contextmanager
def demo_environment() -> Iterator[tuple[Path, Path, Path]]:
    """(vault, targets, config) for a running demo fleet; the state dir points inside too."""
    from gc_tui.core.targets import save_targets, targets_from_mapping
    from gc_tui.demo.catalog import demo_fleet_data, demo_instances, demo_vault_entries
    from gc_tui.demo.demo_vault import write_demo_vault
    from gc_tui.demo.fleet import FakeFleetThread

    # Builds take a few seconds, as small images do on a real server, so progress is visible.
    fleet = FakeFleetThread(
        demo_instances(build_seconds=2.5, service_update_seconds=1.0),
    )
    with tempfile.TemporaryDirectory(prefix="gc-tui-demo-") as tmp, fleet:
        folder = Path(tmp)
        vault = folder / "demo-fleet.kdbx"
        write_demo_vault(vault, demo_vault_entries(fleet.urls()), DEMO_PASSWORD)
        targets = folder / "targets.toml"
        save_targets(targets, targets_from_mapping(demo_fleet_data()["target_images"]))
        config = folder / "config.toml"
        config.write_text('group = "CapRover"\n', encoding="utf-8")
        previous = os.environ.get("GC_TUI_STATE_DIR")
        os.environ["GC_TUI_STATE_DIR"] = str(folder / "state")
        try:
            yield vault, targets, config
        finally:
            if previous is None:
                os.environ.pop("GC_TUI_STATE_DIR", None)
            else:
                os.environ["GC_TUI_STATE_DIR"] = previous


def demo_argv(rest: Sequence[str], vault: Path, targets: Path, config: Path) -> list[str]:
    argv = list(rest) or ["tui"]
    if argv[0].startswith("-"):
        argv = ["tui", *argv]
    command = argv[0]
    extra = ["--vault", str(vault), "--config", str(config)]
    if command in _TAKES_TARGETS and "--targets" not in argv:
        extra += ["--targets", str(targets)]
    if command == "targets":
        # `targets show|pin` take their flags after the action.
        return argv[:2] + (extra if len(argv) > 1 and argv[1] == "pin" else extra[2:]) + argv[2:]
    return [command, *extra, *argv[1:]]


def run_demo(rest: Sequence[str], *, stdin: TextIO, stdout: TextIO, stderr: TextIO) -> int:
    from gc_tui.cli import run
    from gc_tui.core.deploy import Timing
    from gc_tui.core.secret import Secret
    from gc_tui.core.update import UpdateTiming

    with demo_environment() as (vault, targets, config):
        argv = demo_argv(rest, vault, targets, config)
        interactive = argv[0] == "tui"
        return run(
            argv,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            # The TUI asks for it (that is part of the demo); headless commands get it here.
            password=None if interactive else Secret(DEMO_PASSWORD),
            timing=Timing(poll_interval=1.0, settle_seconds=1.5),
            update_timing=UpdateTiming(poll_interval=1.0, deadline=120.0),
            unlock_hint=f"demo vault: {vault.name}, password: {DEMO_PASSWORD}",
        )
