"""cProfile of one audit against a fake fleet in another process (for finding client CPU).

    python benchmarks/profile_audit.py [--instances 200] [--latency 0.1] [--top 40]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._fleet import fake_fleet, instances_for
from gc_tui.core.eventloop import run

if TYPE_CHECKING:
    from gc_tui.core.model import Instance


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--instances", type=int, default=200)
    parser.add_argument("--apps", type=int, default=12)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--sort", default="tottime")
    args = parser.parse_args()
    from gc_tui.core.audit import audit_fleet
    from gc_tui.core.session import FleetSession

    async def audit(instances: list[Instance]) -> float:
        start = time.perf_counter()
        async with FleetSession(instances) as session:
            await audit_fleet(session, concurrency=len(instances))
        return time.perf_counter() - start

    with fake_fleet(args.instances, args.apps, latency=args.latency) as urls:
        instances = instances_for(urls, args.apps)
        run(audit(instances[:5]))
        profiler = cProfile.Profile()
        profiler.enable()
        wall = run(audit(instances))
        profiler.disable()
    print(f"wall {wall:.3f} s (under cProfile)")
    pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
