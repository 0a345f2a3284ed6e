"""Run every benchmark, one process each; exit 1 when any target is missed.

    python benchmarks/run_all.py            # the full run (about 3 minutes, mostly the deploy)
    python benchmarks/run_all.py --smoke    # small and fast, to check the scripts work
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
FULL = [
    ["floor_audit.py"],  # a reference for bench_audit.py, not a target: always exits 0
    ["bench_audit.py"],
    ["bench_deploy.py"],
    ["bench_tui.py"],
    ["bench_startup.py"],
    ["bench_memory.py"],
    ["bench_unlock.py"],
    ["bench_upstream.py"],
    ["bench_journal.py"],
]
SMOKE = [
    ["floor_audit.py", "--instances", "20", "--small", "5", "--repeat", "1"],
    ["bench_audit.py", "--smoke"],
    ["bench_deploy.py", "--smoke"],
    ["bench_tui.py", "--smoke"],
    ["bench_startup.py", "--repeat", "2"],
    ["bench_memory.py", "--instances", "20"],
    ["bench_unlock.py", "--repeat", "1", "--entries", "200"],
    ["bench_upstream.py", "--repeat", "1"],
    ["bench_journal.py", "--smoke"],
]


REFERENCES = {"floor_audit.py"}  # printed for comparison; they have no target to meet


def main() -> int:
    runs = SMOKE if "--smoke" in sys.argv[1:] else FULL
    failed = []
    for script, *options in runs:
        code = subprocess.run([sys.executable, str(HERE / script), *options]).returncode
        if code != 0:
            failed.append(script)
    judged = [script for script, *_ in runs if script not in REFERENCES]
    print(f"== {len(judged) - len(failed)} of {len(judged)} benchmarks met their targets"
          + (f"; missed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
