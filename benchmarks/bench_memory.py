"""Peak RSS of ``gc-tui audit --format json`` at 200 instances x 12 apps; target < 150 MB.

The vault is written with pykeepass's default KDF (Argon2, 64 MiB), which is part of the
peak, as it is for an operator.

    python benchmarks/bench_memory.py [--instances 200]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._fleet import PYTHON, ROOT, VAULT_PASSWORD, Report, fake_fleet, write_vault


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=200)
    parser.add_argument("--apps", type=int, default=12)
    args = parser.parse_args(argv)
    report = Report(f"memory: gc-tui audit --format json, {args.instances} x {args.apps}")
    with tempfile.TemporaryDirectory(prefix="gc-tui-bench-") as tmp, fake_fleet(
        args.instances, args.apps
    ) as urls:
        folder = Path(tmp)
        vault = write_vault(folder / "fleet.kdbx", urls, args.apps)
        env = dict(os.environ)
        env.update(
            GC_TUI_VAULT_PASSWORD=VAULT_PASSWORD,
            XDG_CONFIG_HOME=str(folder / "config"),  # no operator config leaks in
            GC_TUI_STATE_DIR=str(folder / "state"),
        )
        gc_tui = Path(PYTHON).parent / "gc-tui"
        command = [str(gc_tui)] if gc_tui.exists() else [PYTHON, "-m", "gc_tui"]
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        result = subprocess.run(
            [*command, "audit", "--vault", str(vault), "--group", "CapRover", "--format", "json"],
            cwd=ROOT, env=env, capture_output=True, text=True,
        )
        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if result.returncode != 0:
        raise SystemExit(f"gc-tui audit failed ({result.returncode}): {result.stderr[-500:]}")
    data = json.loads(result.stdout)
    ok = sum(1 for instance in data["instances"] if instance["status"] == "ok")
    if peak_kib <= before:
        print("  note: an earlier child had a larger peak; the figure is an upper bound")
    report.info("instances answered", f"{ok} of {args.instances}")
    report.check("peak RSS", peak_kib / 1024, 150, " MB")
    return report.exit_code()


if __name__ == "__main__":
    sys.exit(main())
