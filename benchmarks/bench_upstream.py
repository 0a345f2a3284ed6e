"""Upstream lookups for 15 repositories, cold and warm, with latency in every registry answer.

The fakes (benchmarks/_registries.py, in their own process) are shaped like Docker Hub (token
service and blob CDN on another origin, 10 repositories, half multi-platform) and GHCR (5
repositories, one listing 1,500 tags: two pages). Every answer waits ``--latency`` seconds.

Round trips are ``(wall of the 15 with latency - wall of 1 with none) / latency``, each wall
the median of ``--repeat`` runs with a fresh client (new connections, no token) and an empty
cache. Subtracting one repository's lookup against fakes with no latency leaves out the fixed
cost of a run (event loop, clients, first connections), as bench_audit.py does; the CPU the
other 14 repositories add is still counted. The figure judged is round trips / the critical
path, target <= 1.3: the client's own work on 60 to 110 requests may add a fraction of a
round trip, one round trip too many would not fit.

- tags and digests (``LookupSettings(details=False)``, what ``gc-tui upstream``,
  ``--to-newest`` and ``targets bump`` need): challenge, token, list (3), GHCR's second page
  (1), one round of HEADs (1): a critical path of 5;
- with details (what ``repushed`` and the detail view need): on Docker Hub, challenge, token,
  list (3), the index of the newest tag beside the running tag's HEAD (1), its linux/amd64
  manifest (1), the config blob (1) and the blob's CDN (1): a critical path of 7;
- a warm cache: no request at all (counted by the fakes), in under half a round trip.

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

RATIO = 1.3  # round trips / critical path; see the docstring


# One per process, as in the TUI and the CLI: the system trust store is read once per session.
TLS = TlsContexts()


async def _lookup(
    mirrors: dict[str, str], cache: UpstreamCache | None, details: bool, count: int = 15
) -> tuple[float, int]:
    """(wall seconds, requests sent) of one run with a fresh client, for ``count`` repositories."""
    repositories = dict(list(wanted().items())[:count])
    start = time.perf_counter()
    async with RegistryClient(mirrors=mirrors, tls=TLS) as client:
        lookups = UpstreamLookups(client, cache=cache, settings=LookupSettings(details=details))
        found = await lookups.lookup_all(repositories)
        sent = client.requests_sent
    wall = time.perf_counter() - start
    failed = [name for name, lookup in found.items() if lookup.error is not None]
    if failed or len(found) != count:
        raise SystemExit(f"lookups failed: {failed or len(found)}")
    return wall, sent


def _median(
    mirrors: dict[str, str], repeat: int, details: bool, count: int = 15
) -> tuple[float, int]:
    runs = [asyncio.run(_lookup(mirrors, None, details, count)) for _ in range(repeat)]
    return statistics.median(wall for wall, _ in runs), runs[0][1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    latency = args.latency
    report = Report(f"upstream: 15 repositories, {latency * 1000:g} ms per answer")
    with fake_registries(0.0) as instant, fake_registries(latency) as mirrors:
        for details, label, path in ((False, "tags and digests", 5), (True, "with details", 7)):
            asyncio.run(_lookup(instant, None, details))  # warm imports and code paths
            fixed, _ = _median(instant, args.repeat, details, count=1)
            wall, sent = _median(mirrors, args.repeat, details)
            report.info(
                f"cold, {label}",
                f"{wall:.3f} s, {sent} requests; one with no latency {fixed:.3f} s",
            )
            trips = (wall - fixed) / latency
            report.info(f"cold, {label}: round trips", f"{trips:.2f} (critical path {path})")
            report.check(f"cold, {label}: round trips / critical path", trips / path, RATIO, "x")
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
