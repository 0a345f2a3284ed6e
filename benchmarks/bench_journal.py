"""What the deploy journal costs: one locked, fsynced append per row transition.

Two figures. First, one append on its own, many times over, on the filesystem the journal
would use (the state directory, unless --dir says otherwise): median, 95th percentile, worst.
Second, the same deploy as bench_deploy.py (one 3-app group on each of 100 instances) run
with and without a journal, alternating, several times: the journal's share of the wall time,
and the longest the event loop stalled while it wrote (a stall delays every other row's poll).

Targets: with the journal the deploy's median wall is at most 1.05x the median without, and
each run's worst event-loop stall is, in the median over runs, at most 50 ms longer than
without a journal (the loop stalls without one too, while hundreds of requests start at
once: that is not the journal's). Every run's worst stall is printed too.

    python benchmarks/bench_journal.py             # about 1.5 minutes
    python benchmarks/bench_journal.py --smoke     # 10 instances, 2 runs each
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._fleet import Report, fake_fleet, instances_for

if TYPE_CHECKING:
    from gc_tui.core.model import Instance

IMAGE = "communityfirst/superset-deployment:6.1.0_20260901-{n:04d}"


def append_costs(directory: Path, count: int) -> list[float]:
    from gc_tui.core.journal import Journal

    with tempfile.TemporaryDirectory(dir=directory) as folder:
        journal = Journal(Path(folder) / "deploys.jsonl")
        costs = []
        for n in range(count):
            record = {"type": "row", "run": "bench", "instance": f"site-{n % 100:03d}",
                      "app": "superset", "state": "verifying"}
            start = time.perf_counter()
            journal.append(record)
            costs.append(time.perf_counter() - start)
    return costs


async def _watch_loop(stalls: list[float], stop: asyncio.Event, tick: float = 0.005) -> None:
    """How late each short sleep wakes up: the time the loop spent doing something else."""
    while not stop.is_set():
        start = time.perf_counter()
        await asyncio.sleep(tick)
        stalls.append(time.perf_counter() - start - tick)


async def _deploy(
    instances: list[Instance], image: str, journal_path: Path | None
) -> tuple[float, float, int, int]:
    from gc_tui.core.audit import audit_fleet
    from gc_tui.core.deploy import DeployEngine, DeployTiming
    from gc_tui.core.engine import RowState
    from gc_tui.core.journal import Journal
    from gc_tui.core.plan import DeployTarget, build_plan
    from gc_tui.core.session import FleetSession

    journal = Journal(journal_path) if journal_path is not None else None
    async with FleetSession(instances) as session:
        audits = await audit_fleet(session, concurrency=len(instances))
        plan = build_plan(audits, [DeployTarget(i.name, "superset", image) for i in instances])
        engine = DeployEngine(session, plan, concurrency=len(instances), journal=journal,
                              timing=DeployTiming(poll_interval=2.0, settle_seconds=1.5))
        stalls: list[float] = []
        stop = asyncio.Event()
        watcher = asyncio.create_task(_watch_loop(stalls, stop))
        start = time.perf_counter()
        results = await engine.run()
        wall = time.perf_counter() - start
        stop.set()
        await watcher
    if any(result.state is not RowState.DONE for result in results):
        raise SystemExit("a row did not end done; the figures would mean nothing")
    if journal is None:
        return wall, max(stalls, default=0.0), 0, 0
    records = sum(1 for line in journal.path.read_text().splitlines() if engine.run_id in line)
    return wall, max(stalls, default=0.0), journal.fsyncs, records


def main(argv: list[str] | None = None) -> int:
    from gc_tui.core.journal import state_dir

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3, help="deploys with and without, each")
    parser.add_argument("--appends", type=int, default=1000)
    parser.add_argument("--dir", type=Path, default=None,
                        help="where to write the appends (default: the state directory)")
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args(argv)
    if args.smoke:
        args.instances, args.runs, args.appends = 10, 2, 200
    directory = args.dir or state_dir()
    directory.mkdir(parents=True, exist_ok=True)

    report = Report(f"journal: {args.appends} appends, then a {args.instances}-instance deploy "
                    f"with and without ({args.runs} runs each)")
    costs = sorted(append_costs(directory, args.appends))
    report.info(f"one append + fsync in {directory}",
                f"median {statistics.median(costs) * 1000:.2f} ms, "
                f"p95 {costs[int(len(costs) * 0.95)] * 1000:.2f} ms, "
                f"worst {costs[-1] * 1000:.2f} ms")

    walls: dict[bool, list[float]] = {False: [], True: []}
    stalls: dict[bool, list[float]] = {False: [], True: []}
    fsyncs = records = 0
    extra = ["--build-seconds", "1", "--service-update-seconds", "1"]
    with fake_fleet(args.instances, 12, extra=extra) as urls, \
            tempfile.TemporaryDirectory(dir=directory) as folder:
        instances = instances_for(urls, 12)
        n = 0
        for _ in range(args.runs):
            for with_journal in (False, True):
                n += 1
                path = Path(folder) / "deploys.jsonl" if with_journal else None
                wall, stall, count, written = asyncio.run(
                    _deploy(instances, IMAGE.format(n=n), path)
                )
                walls[with_journal].append(wall)
                stalls[with_journal].append(stall)
                if with_journal:
                    fsyncs, records = count, written
    without, with_ = statistics.median(walls[False]), statistics.median(walls[True])
    spread = ", ".join(f"{w:.2f}" for w in walls[True])
    report.info("records and fsyncs in one deploy", f"{records} records, {fsyncs} fsyncs")
    report.info("median wall without the journal", f"{without:.2f} s")
    report.info("median wall with the journal", f"{with_:.2f} s (runs: {spread})")
    report.check("wall with / without", with_ / without, 1.05, "x")
    for with_journal, label in ((False, "without"), (True, "with")):
        runs = ", ".join(f"{s * 1000:.0f}" for s in stalls[with_journal])
        report.info(f"worst event-loop stall per run, {label} the journal", f"{runs} ms")
    # One run's worst stall is an extreme of a noisy machine (the other process, the fake,
    # shares the two cores); the median over runs is what the journal reliably adds.
    added = statistics.median(stalls[True]) - statistics.median(stalls[False])
    report.check("stall the journal adds (median of the runs' worst)", added * 1000, 50, " ms")
    return report.exit_code()


if __name__ == "__main__":
    sys.exit(main())
