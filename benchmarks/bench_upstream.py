"""Upstream lookups for 15 repositories, cold and warm, with latency in every registry answer.

The fakes (benchmarks/_registries.py, in their own process) are shaped like Docker Hub (token
service and blob CDN on another origin, 10 repositories, half multi-platform) and GHCR (5
repositories, one listing 1,500 tags: two pages). Every answer waits ``--latency`` seconds.

Figures are in round trips: wall time / latency, the median of ``--repeat`` runs, each with a
fresh client (new connections, no token) and an empty cache. Targets:

- tags and digests (``LookupSettings(details=False)``, what ``gc-tui upstream``,
  ``--to-newest`` and ``targets bump`` need): challenge, token, list (3), the second page (1),
  one round of HEADs (1): <= 5 + 1 round trip of slack for the client's own work;
- with details (what ``repushed`` and the detail view need): the same, then the manifest of
  the platform under an index (1), the config blob (1) and its CDN redirect (1): <= 8 + 1;
- a warm cache: no request at all (counted by the fakes), in well under one round trip.

    python benchmarks/bench_upstream.py                 # the full run (about 15 s)
    python benchmarks/bench_upstream.py --repeat 1      # a quick check
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._fleet import Report
from benchmarks._registries import fake_registries, wanted
from gc_tui.core.http import TlsContexts
from gc_tui.core.registry import RegistryClient
from gc_tui.core.upstream_cache import UpstreamCache
from gc_tui.core.upstream_lookup import LookupSettings, UpstreamLookups

SLACK = 1.0  # round trips allowed for the client's own work at this scale


# One per process, as in the TUI and the CLI: the system trust store is read once per session.
TLS = TlsContexts()


async def _lookup(
    mirrors: dict[str, str], cache: UpstreamCache | None, details: bool
) -> tuple[float, int]:
    """(wall seconds, requests sent) of one run with a fresh client."""
    start = time.perf_counter()
    async with RegistryClient(mirrors=mirrors, tls=TLS) as client:
        lookups = UpstreamLookups(client, cache=cache, settings=LookupSettings(details=details))
        found = await lookups.lookup_all(wanted())
        sent = client.requests_sent
    wall = time.perf_counter() - start
    failed = [name for name, lookup in found.items() if lookup.error is not None]
    if failed or len(found) != 15:
        raise SystemExit(f"lookups failed: {failed or len(found)}")
    return wall, sent


def _median(mirrors: dict[str, str], repeat: int, details: bool) -> tuple[float, int]:
    runs = [asyncio.run(_lookup(mirrors, None, details)) for _ in range(repeat)]
    return statistics.median(wall for wall, _ in runs), runs[0][1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    latency = args.latency
    report = Report(f"upstream: 15 repositories, {latency * 1000:g} ms per answer")
    with fake_registries(latency) as mirrors:
        asyncio.run(_lookup(mirrors, None, False))  # warm imports and the fakes' code paths
        wall, sent = _median(mirrors, args.repeat, details=False)
        report.info("cold, tags and digests", f"{wall:.3f} s, {sent} requests")
        report.check("cold, tags and digests: round trips", wall / latency, 5 + SLACK)
        wall, sent = _median(mirrors, args.repeat, details=True)
        report.info("cold, with details", f"{wall:.3f} s, {sent} requests")
        report.check("cold, with details: round trips", wall / latency, 8 + SLACK)
        with tempfile.TemporaryDirectory(prefix="gc-tui-bench-") as folder:
            cache = UpstreamCache(Path(folder) / "upstream.json")
            asyncio.run(_lookup(mirrors, cache, True))
            warm = [asyncio.run(_lookup(mirrors, cache, True)) for _ in range(args.repeat)]
        wall = statistics.median(run[0] for run in warm)
        report.info("warm cache", f"{wall * 1000:.1f} ms, {warm[0][1]} requests")
        report.check("warm cache: requests", max(run[1] for run in warm), 0)
        report.check("warm cache: round trips", wall / latency, 0.5)
    return report.exit_code()


if __name__ == "__main__":
    sys.exit(main())
