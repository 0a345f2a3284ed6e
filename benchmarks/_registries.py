"""Fake registries for bench_upstream.py, served from their own process.

Run as a script it serves a Docker Hub-shaped and a GHCR-shaped fake (demo/fake_registry.py)
holding 15 repositories, prints ``READY {"docker.io": url, "ghcr.io": url}`` and serves until
its stdin closes; the latency is slept inside every answer. A separate process keeps the
fakes' CPU out of the client's measurement.

    python benchmarks/_registries.py --latency 0.1
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gc_tui.demo.fake_registry import FakeRegistry  # noqa: E402

MULTI = ("linux/amd64", "linux/arm64")
START = datetime(2026, 1, 5, 9, tzinfo=UTC)

# 10 repositories on the Docker Hub-shaped fake (half of them multi-platform, as official
# images are), 5 on the GHCR-shaped one, one of which lists 1,500 tags: two pages of 1,000.
HUB = [f"bench/app{index:02d}" for index in range(10)]
GHCR = [f"bench-labs/tool{index}" for index in range(5)]
RUNNING = "1.10.0"  # what the apps run; every repository has newer releases


def _tags(count: int) -> list[str]:
    return [f"1.{minor}.0" for minor in range(count)]


def build() -> tuple[FakeRegistry, FakeRegistry]:
    hub = FakeRegistry(
        service="registry.docker.io", token_origin="separate", pull_limit=10_000, blob_redirect=True
    )
    ghcr = FakeRegistry(service="ghcr.io", page_size=100, order="pushed")
    for position, name in enumerate(HUB):
        for day, tag in enumerate(_tags(30)):
            platforms = MULTI if position % 2 == 0 else ("linux/amd64",)
            hub.store.push(name, tag, START + timedelta(days=day), platforms=platforms)
        hub.store.push(name, "latest", START)
    for position, name in enumerate(GHCR):
        for day, tag in enumerate(_tags(1500 if position == 0 else 40)):
            ghcr.store.push(name, tag, START + timedelta(hours=day))
    return hub, ghcr


def wanted() -> dict[str, list[str]]:
    """The 15 repositories, as ``UpstreamLookups.lookup_all`` takes them."""
    repositories = [f"docker.io/{name}" for name in HUB] + [f"ghcr.io/{name}" for name in GHCR]
    return {repository: [RUNNING] for repository in repositories}


async def _serve(latency: float) -> None:
    hub, ghcr = build()
    for registry in (hub, ghcr):
        registry.latency = latency
        await registry.start()
    print("READY " + json.dumps({"docker.io": hub.url, "ghcr.io": ghcr.url}), flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # ends when the parent closes our stdin
    await hub.stop()
    await ghcr.stop()


@contextmanager
def fake_registries(latency: float) -> Iterator[dict[str, str]]:
    """Start this script in its own process; yield the registry host -> URL map."""
    from benchmarks._fleet import served_by

    with served_by([sys.executable, __file__, "--latency", str(latency)],
                   "the fake registries") as urls:
        yield urls


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=0.0)
    asyncio.run(_serve(parser.parse_args().latency))
