"""Vault open time against ``keepassxc-cli ls`` on the same file: Argon2 and AES-KDF.

Both files use the "real" KDF settings of tests/vaults.py (Argon2d 64 MiB x 14 iterations x 2
lanes, as keepassxc and pykeepass create; AES-KDF 1,000,000 rounds) and hold 200 entries.
gc-tui's figure is ``read_vault`` in-process (what the unlock screen waits for);
keepassxc-cli's is the wall time of the whole command, process start included, which only
favours gc-tui by a few ms. Target: at most 1.5x keepassxc-cli on both files. Skips (exit 0,
with a message) when keepassxc-cli is missing: ``apt-get install keepassxc``.

    python benchmarks/bench_unlock.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._fleet import Report

PASSWORD = "correct horse battery staple"


def _entries(count: int) -> list[dict[str, str]]:
    return [
        {
            "group": "CapRover",
            "title": f"gc-{index:04d}",
            "url": f"https://captain.gc-{index:04d}.example.org",
            "password": f"pw-{index:04d}-xyzzy",
        }
        for index in range(count)
    ]


def _ours(path: Path) -> float:
    from gc_tui.core.secret import Secret
    from gc_tui.core.vault import read_vault

    start = time.perf_counter()
    entries = read_vault(path, Secret(PASSWORD))
    wall = time.perf_counter() - start
    assert len(entries) >= 200, len(entries)
    return wall


def _keepassxc(cli: str, path: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        [cli, "ls", "-q", str(path)],
        input=PASSWORD + "\n", text=True, check=True, capture_output=True,
    )
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--entries", type=int, default=200)
    args = parser.parse_args(argv)
    report = Report("unlock: vault open time vs keepassxc-cli")
    cli = shutil.which("keepassxc-cli")
    if cli is None:
        print("  SKIPPED: keepassxc-cli not found (Debian: apt-get install keepassxc)")
        return 0
    from tests.vaults import make_vault  # the same builder the vault tests use

    with tempfile.TemporaryDirectory(prefix="gc-tui-bench-") as tmp:
        for label, kdf in (("Argon2d", "argon2d"), ("AES-KDF", "aes-kdf")):
            path = make_vault(Path(tmp) / f"{kdf}.kdbx", _entries(args.entries),
                              password=PASSWORD, kdf=kdf, cheap_kdf=False)
            _ours(path)  # warm imports
            ours = statistics.median(_ours(path) for _ in range(args.repeat))
            theirs = statistics.median(_keepassxc(cli, path) for _ in range(args.repeat))
            report.info(f"{label}: gc-tui read_vault / keepassxc-cli ls",
                        f"{ours:.3f} s / {theirs:.3f} s")
            report.check(f"{label}: ratio to keepassxc-cli", ours / theirs, 1.5, "x")
    return report.exit_code()


if __name__ == "__main__":
    sys.exit(main())
