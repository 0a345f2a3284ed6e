"""Shared helpers: a fake CapRover fleet in its own process, and instances pointing at it.

The fleet runs in a separate process so the client's CPU is measured alone; the fake adds its
latency inside each request's handling (per request, not per connection).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gc_tui.core.model import Instance

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


@contextmanager
def fake_fleet(
    instances: int,
    apps: int = 12,
    *,
    latency: float = 0.0,
    extra: Sequence[str] = (),
) -> Iterator[dict[str, str]]:
    """Start ``python -m gc_tui.demo.fake_caprover --synthetic N``; yield {name: url}."""
    command = [
        PYTHON,
        "-m",
        "gc_tui.demo.fake_caprover",
        "--synthetic",
        str(instances),
        "--apps",
        str(apps),
        "--latency",
        str(latency),
        *extra,
    ]
    with served_by(command, "the fake fleet") as urls:
        yield urls


@contextmanager
def served_by(command: Sequence[str], what: str) -> Iterator[dict[str, str]]:
    """Run ``command``, a fake that prints ``READY {json}`` and serves until its stdin closes
    (so it ends even if this process dies); yield that JSON."""
    process = subprocess.Popen(
        list(command),
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("READY "):
            raise RuntimeError(f"{what} did not start: {line!r}")
        yield json.loads(line[len("READY ") :])
    finally:
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def instances_for(urls: dict[str, str], apps: int, *, seed: int = 0) -> list[Instance]:
    """Instances with the passwords the fake fleet (same size, apps and seed) expects."""
    from gc_tui.core.model import Instance
    from gc_tui.core.secret import Secret
    from gc_tui.demo.catalog import synthetic_fleet

    fakes = synthetic_fleet(len(urls), apps, seed=seed)
    return [
        Instance(name=fake.name, url=urls[fake.name], password=Secret(fake.password))
        for fake in fakes
    ]


class Report:
    """Collects ``figure <= target`` checks; ``exit_code()`` is 1 when any missed."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.missed: list[str] = []
        print(f"== {title}")

    def info(self, label: str, value: str) -> None:
        print(f"  {label:<52} {value}")

    def check(
        self, label: str, figure: float, target: float, unit: str = "", note: str = ""
    ) -> bool:
        ok = figure <= target
        mark = "ok  " if ok else "MISS"
        extra = f"  ({note})" if note else ""
        print(f"  {mark} {label:<47} {figure:8.3f}{unit}  target <= {target:g}{unit}{extra}")
        if not ok:
            self.missed.append(label)
        return ok

    def exit_code(self) -> int:
        if self.missed:
            print(f"  {self.title}: MISSED {', '.join(self.missed)}")
            return 1
        print(f"  {self.title}: all targets met")
        return 0


def now() -> float:
    return time.perf_counter()


def env_for_child() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    return env


VAULT_PASSWORD = "bench"


def write_vault(path: Path, urls: dict[str, str], apps: int, *, seed: int = 0) -> Path:
    """A KeePass file whose ``CapRover`` group holds one entry per fake instance."""
    from gc_tui.demo.catalog import synthetic_fleet
    from gc_tui.demo.demo_vault import write_demo_vault

    fakes = synthetic_fleet(len(urls), apps, seed=seed)
    write_demo_vault(path, [(f.name, urls[f.name], f.password) for f in fakes], VAULT_PASSWORD)
    return path
