"""Audit wall time at 200 instances x 12 apps with 100 ms added to every request.

Bound: the two dependent round trips per instance (login, then the app list with versionInfo
alongside), i.e. 2 x latency. Figure: ``(wall at N instances - wall at 1 instance with 0 ms)
/ bound``, so the fixed cost of one audit (event loop, first connection) is not counted and
a slow machine slows both terms. Targets: ratio <= 1.5 and growth from 50 to N < 10%.
The audit runs on the event loop ``gc-tui audit`` uses (uvloop where installed); the same
figures on asyncio's own loop are reported alongside (``--loop`` picks the one judged).

    python benchmarks/bench_audit.py                # the full run (about 20 s)
    python benchmarks/bench_audit.py --smoke        # 20 instances, 1 repeat
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._fleet import Report, fake_fleet, instances_for
from gc_tui.core.audit import DEFAULT_CONCURRENCY
from gc_tui.core.eventloop import LoopChoice, loop_name, run


async def _audit_once(instances, concurrency: int) -> tuple[float, float]:
    """(wall, client CPU) of one audit in a fresh session (new connections)."""
    from gc_tui.core.audit import audit_fleet
    from gc_tui.core.session import FleetSession

    wall0, cpu0 = time.perf_counter(), time.process_time()
    async with FleetSession(instances) as session:
        audits = await audit_fleet(session, concurrency=concurrency)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    bad = [a for a in audits if not a.ok]
    if bad:
        raise SystemExit(f"audit failed on {len(bad)} instances, e.g. {bad[0].error}")
    return wall, cpu


async def _sequential(instances) -> float:
    """One instance after the other over the same session (the naive loop)."""
    from gc_tui.core.audit import audit_instance
    from gc_tui.core.session import FleetSession

    start = time.perf_counter()
    async with FleetSession(instances) as session:
        for client in session.clients():
            audit = await audit_instance(client)
            if not audit.ok:
                raise SystemExit(f"sequential audit failed: {audit.error}")
    return time.perf_counter() - start


def _median_run(
    instances, concurrency: int, repeat: int, loop: LoopChoice
) -> tuple[float, float]:
    runs = [run(_audit_once(instances, concurrency), choice=loop) for _ in range(repeat)]
    return statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=200)
    parser.add_argument("--small", type=int, default=50, help="the size growth is measured from")
    parser.add_argument("--apps", type=int, default=12)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--repeat", type=int, default=5, help="runs per size; the median counts")
    parser.add_argument(
        "--sequential", type=int, default=20, metavar="N",
        help="instances in the sequential baseline (extrapolated to --instances; 0: skip)",
    )
    parser.add_argument(
        "--loop", choices=["auto", "uvloop", "asyncio"], default="auto",
        help="the event loop judged against the targets (auto: the one gc-tui audit uses)",
    )
    parser.add_argument("--smoke", action="store_true", help="a quick run: 20 instances, 1 repeat")
    args = parser.parse_args(argv)
    if args.smoke:
        args.instances, args.small, args.repeat, args.sequential = 20, 5, 1, 5
    bound = 2 * args.latency
    judged = loop_name(args.loop)
    other: LoopChoice | None = "asyncio" if judged == "uvloop" else None
    report = Report(
        f"audit: {args.instances} instances x {args.apps} apps, +{args.latency * 1000:g} ms "
        f"per request, {judged} event loop"
    )

    with fake_fleet(1, args.apps, latency=0.0) as urls:
        floor, _ = _median_run(instances_for(urls, args.apps), 1, max(3, args.repeat), args.loop)
    with fake_fleet(args.instances, args.apps, latency=args.latency) as urls:
        everyone = instances_for(urls, args.apps)
        # Warm imports, code paths and the fake's cache of each instance's app list (the fake
        # re-encodes a listing only when it changed, so its first one costs more): what is
        # measured is the client, with servers that answer the same way every time.
        run(_audit_once(everyone, DEFAULT_CONCURRENCY), choice=args.loop)
        small, _ = _median_run(everyone[: args.small], args.small, args.repeat, args.loop)
        full, full_cpu = _median_run(everyone, DEFAULT_CONCURRENCY, args.repeat, args.loop)
        if other is not None:
            other_small, _ = _median_run(everyone[: args.small], args.small, args.repeat, other)
            other_full, other_cpu = _median_run(everyone, DEFAULT_CONCURRENCY, args.repeat, other)
        narrow_wall, _ = _median_run(everyone, 32, 1, args.loop)
        sequential = (
            run(_sequential(everyone[: args.sequential]), choice=args.loop)
            if args.sequential else 0.0
        )

    requests = args.instances * 3
    report.info("bound (2 dependent round trips)", f"{bound:.3f} s")
    report.info("wall, 1 instance, 0 ms (fixed cost, subtracted)", f"{floor:.3f} s")
    report.info(f"wall, {args.small} instances", f"{small:.3f} s")
    report.info(
        f"wall, {args.instances} instances (default concurrency {DEFAULT_CONCURRENCY})",
        f"{full:.3f} s",
    )
    report.info(
        "client CPU per request",
        f"{full_cpu / requests * 1000:.2f} ms ({full_cpu:.2f} s for {requests} requests)",
    )
    report.info(
        f"wall, {args.instances} instances, concurrency 32 (for comparison)",
        f"{narrow_wall:.3f} s = {(narrow_wall - floor) / bound:.1f}x bound",
    )
    if other is not None:
        report.info(
            f"on asyncio's own loop: wall at {args.small} / {args.instances}",
            f"{other_small:.3f} s / {other_full:.3f} s = {(other_full - floor) / bound:.2f}x bound, "
            f"growth {(other_full - other_small) / other_small * 100:+.0f}%",
        )
        report.info(
            "on asyncio's own loop: client CPU per request",
            f"{other_cpu / requests * 1000:.2f} ms",
        )
    if args.sequential:
        extrapolated = sequential / args.sequential * args.instances
        report.info(
            f"sequential baseline ({args.sequential} measured, scaled to {args.instances})",
            f"{extrapolated:.1f} s = {(extrapolated - floor) / bound:.0f}x bound",
        )
    report.check(f"ratio to bound at {args.instances}", (full - floor) / bound, 1.5, "x")
    report.check(
        f"growth {args.small} -> {args.instances} instances",
        (full - small) / small * 100,
        10.0,
        "%",
    )
    return report.exit_code()


if __name__ == "__main__":
    sys.exit(main())
