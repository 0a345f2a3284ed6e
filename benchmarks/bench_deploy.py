"""Deploy wall time: one service group (3 apps) on each of 100 instances.

The fake builds for 1 s and updates the service for 1 s; the engine polls every 2 s and lets
each app settle 1.5 s before verifying it (verification overlaps the next app's build, so only
the last settle is on the critical path). Bound per instance, run in parallel:
3 x ceil(build / poll) x poll + settle = 3 x 2 + 1.5 = 7.5 s. Target: <= 1.3x at
--concurrency 100; the default concurrency (8) is reported, not judged.

    python benchmarks/bench_deploy.py               # about 2 minutes (the default-concurrency run)
    python benchmarks/bench_deploy.py --smoke       # 10 instances, no default-concurrency run
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._fleet import Report, fake_fleet, instances_for

if TYPE_CHECKING:
    from gc_tui.core.model import Instance

NEW_IMAGES = (
    "communityfirst/superset-deployment:6.1.0_20260901-1200",
    "communityfirst/superset-deployment:6.1.0_20260902-1200",  # for the second run
)


async def _deploy(
    instances: list[Instance], concurrency: int, poll: float, settle: float, image: str
) -> tuple[float, int, int]:
    from gc_tui.core.audit import audit_fleet
    from gc_tui.core.deploy import DeployEngine, DeployTiming
    from gc_tui.core.engine import RowState
    from gc_tui.core.plan import DeployTarget, build_plan
    from gc_tui.core.session import FleetSession

    async with FleetSession(instances) as session:
        audits = await audit_fleet(session, concurrency=len(instances))
        plan = build_plan(audits, [DeployTarget(i.name, "superset", image) for i in instances])
        engine = DeployEngine(
            session,
            plan,
            concurrency=concurrency,
            timing=DeployTiming(poll_interval=poll, settle_seconds=settle),
        )
        start = time.perf_counter()
        results = await engine.run()
        wall = time.perf_counter() - start
    done = sum(1 for r in results if r.state is RowState.DONE)
    return wall, done, len(plan.rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=100)
    parser.add_argument("--build-seconds", type=float, default=1.0)
    parser.add_argument("--service-update-seconds", type=float, default=1.0)
    parser.add_argument("--poll", type=float, default=2.0)
    parser.add_argument("--settle", type=float, default=1.5)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--default-concurrency", type=int, default=8)
    parser.add_argument(
        "--skip-default", action="store_true", help="skip the default-concurrency run"
    )
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args(argv)
    if args.smoke:
        args.instances, args.skip_default = 10, True
    per_app = math.ceil(args.build_seconds / args.poll) * args.poll
    bound = 3 * per_app + args.settle
    report = Report(
        f"deploy: 3 apps (one group) x {args.instances} instances, build {args.build_seconds:g} s, "
        f"poll {args.poll:g} s, settle {args.settle:g} s"
    )
    extra = [
        "--build-seconds", str(args.build_seconds),
        "--service-update-seconds", str(args.service_update_seconds),
    ]
    with fake_fleet(args.instances, 12, latency=args.latency, extra=extra) as urls:
        instances = instances_for(urls, 12)
        wall, done, rows = asyncio.run(
            _deploy(instances, args.instances, args.poll, args.settle, NEW_IMAGES[0])
        )
        if done != rows or rows != 3 * args.instances:
            raise SystemExit(f"only {done} of {rows} rows done (expected {3 * args.instances})")
        report.info("bound (3 x ceil(build/poll) x poll + final settle)", f"{bound:.2f} s")
        report.info(f"wall at --concurrency {args.instances}", f"{wall:.2f} s")
        if not args.skip_default:
            default_wall, done, rows = asyncio.run(
                _deploy(instances, args.default_concurrency, args.poll, args.settle, NEW_IMAGES[1])
            )
            waves = math.ceil(args.instances / args.default_concurrency)
            report.info(
                f"wall at the default --concurrency {args.default_concurrency}",
                f"{default_wall:.1f} s = {default_wall / bound:.1f}x bound "
                f"({waves} waves: {default_wall / (waves * bound):.2f}x of {waves} x bound)",
            )
    report.check(f"ratio to bound at --concurrency {args.instances}", wall / bound, 1.3, "x")
    return report.exit_code()


if __name__ == "__main__":
    sys.exit(main())
