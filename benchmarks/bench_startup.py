"""Start-up: ``gc-tui --help`` under 0.3 s; the unlock screen's first frame under 1 s;
``import gc_tui.core`` must not import textual.

Measured warm, as an installed gc-tui starts: pip compiles every module's bytecode when it
installs, so the processes here may write theirs (PYTHONDONTWRITEBYTECODE is dropped for them)
and one run before the measured ones writes it. Without bytecode (a developer's checkout
under PYTHONDONTWRITEBYTECODE=1) every start compiles gc-tui's modules from source: the first
frame then took 1.22 s here against 0.79 s.

    python benchmarks/bench_startup.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._fleet import PYTHON, ROOT, Report

FIRST_FRAME = r"""
import sys, time
start = float(sys.argv[1])
from gc_tui.tui.app import make_app
from gc_tui.settings import Settings
from gc_tui.tui.screens.unlock import UnlockScreen

async def main():
    app = make_app(Settings(lock_after_minutes=0))
    async with app.run_test(size=(120, 40)) as pilot:
        while not isinstance(app.screen, UnlockScreen):
            await pilot.pause(0.005)
        await pilot.pause()  # the first frame of the unlock screen is painted
        print(time.time() - start)

import asyncio
asyncio.run(main())
"""


# As an installed gc-tui runs: with the bytecode pip writes at install time.
ENV = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}


def _wall(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, env=ENV)
    return time.perf_counter() - start


def _first_frame() -> float:
    out = subprocess.run(
        [PYTHON, "-c", FIRST_FRAME, repr(time.time())],
        cwd=ROOT, check=True, capture_output=True, text=True, env=ENV,
    ).stdout
    return float(out.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    report = Report("start-up")
    gc_tui = str(Path(PYTHON).parent / "gc-tui")
    command = [gc_tui, "--help"] if Path(gc_tui).exists() else [PYTHON, "-m", "gc_tui", "--help"]
    _wall(command)  # warm the page cache and the bytecode
    help_times = [_wall(command) for _ in range(args.repeat)]
    _first_frame()  # writes the bytecode of what the TUI imports
    frames = [_first_frame() for _ in range(args.repeat)]
    leaked = subprocess.run(
        [PYTHON, "-c", "import sys, gc_tui.core, gc_tui.core.audit, gc_tui.core.deploy, "
         "gc_tui.core.vault; "
         "print(sorted(m for m in sys.modules if m.split('.')[0] == 'textual'))"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout.strip()
    report.info("command", " ".join(Path(c).name if i == 0 else c for i, c in enumerate(command)))
    report.check("gc-tui --help, median", statistics.median(help_times), 0.3, " s",
                 note=f"worst {max(help_times):.3f} s")
    report.check("unlock screen first frame (headless), median", statistics.median(frames), 1.0,
                 " s", note=f"process start to the frame painted; {min(frames):.3f} to "
                 f"{max(frames):.3f} s over {len(frames)} runs")
    ok = leaked == "[]"
    print(f"  {'ok  ' if ok else 'MISS'} import gc_tui.core imports no textual module"
          + ("" if ok else f": {leaked}"))
    if not ok:
        report.missed.append("gc_tui.core imports textual")
    return report.exit_code()


if __name__ == "__main__":
    sys.exit(main())
