"""Audit wall time against a fake fleet in another process, with latency slept per request.

Two scenarios, each judged on the event loop ``gc-tui audit`` uses (uvloop where installed):

1. 200 instances x 12 apps, +100 ms per request, plain HTTP. Target: within 1.25x of a plain
   tuned-httpx script run here against the same fleet (one AsyncClient per instance sharing
   one SSL context, the second connection opened during the login, the answers parsed and
   nothing else). gc-tui also checks every answer and builds its audit rows.
2. 40 instances x 12 apps, +150 ms per request, over TLS (certificates made by trustme).
   Target: ``(wall - wall at 1 instance with 0 ms) / bound <= 2.5``, the bound being the two
   dependent round trips per instance (the login, then the app list and the version side by
   side), so the fixed cost of one audit is not counted.

Client CPU per request is reported, and every figure again on asyncio's own loop (the
TUI's). There is no growth target: the client and the fake share this machine's 2 cores, so
growth measures the machine (benchmarks/floor_audit.py).

    python benchmarks/bench_audit.py                # the full run (about four minutes)
    python benchmarks/bench_audit.py --smoke        # 20 and 8 instances, 1 repeat
"""

from __future__ import annotations

import argparse
import asyncio
import ssl
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._fleet import Report, fake_fleet, instances_for
from gc_tui.core.eventloop import LoopChoice, loop_name, run

Timed = tuple[float, float]  # (wall, client CPU) in seconds


async def _ours(instances: Sequence[Any]) -> Timed:
    """gc-tui's audit in a fresh session (new clients, new connections)."""
    from gc_tui.core.audit import audit_fleet
    from gc_tui.core.session import FleetSession

    wall0, cpu0 = time.perf_counter(), time.process_time()
    async with FleetSession(instances) as session:
        audits = await audit_fleet(session)
    timed = time.perf_counter() - wall0, time.process_time() - cpu0
    bad = [a for a in audits if not a.ok]
    if bad:
        raise SystemExit(f"audit failed on {len(bad)} instances, e.g. {bad[0].error}")
    return timed


async def _reference(instances: Sequence[Any]) -> Timed:
    """The plain tuned-httpx script: what a careful person would write in twenty lines."""
    import httpx

    wall0, cpu0 = time.perf_counter(), time.process_time()
    ca_file = instances[0].ca_file
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    limits = httpx.Limits(max_connections=4, max_keepalive_connections=4)
    captain = {"x-namespace": "captain"}

    async def one(instance: Any) -> None:
        async with httpx.AsyncClient(
            base_url=instance.url, verify=context, limits=limits, timeout=60
        ) as client:
            warm_up = asyncio.create_task(client.get("/checkhealth"))
            login = await client.post(
                "/api/v2/login", json={"password": instance.password.reveal()}, headers=captain
            )
            token = login.json()["data"]["token"]
            headers = {**captain, "x-captain-auth": token}
            apps, version = await asyncio.gather(
                client.get("/api/v2/user/apps/appDefinitions", headers=headers),
                client.get("/api/v2/user/system/versionInfo", headers=headers),
            )
            if apps.json()["status"] != 100 or version.json()["status"] != 100:
                raise SystemExit("the reference audit failed")
            await warm_up

    await asyncio.gather(*(one(instance) for instance in instances))
    return time.perf_counter() - wall0, time.process_time() - cpu0


def _median(
    measure: Callable[[Sequence[Any]], Coroutine[Any, Any, Timed]],
    instances: Sequence[Any],
    repeat: int,
    loop: LoopChoice,
) -> Timed:
    runs = [run(measure(instances), choice=loop) for _ in range(repeat)]
    return statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs)


def _paired(
    instances: Sequence[Any], repeat: int, loop: LoopChoice
) -> tuple[Timed, Timed, float]:
    """gc-tui and the script run back to back, ``repeat`` times, alternating which goes
    first: (gc-tui's medians, the script's medians, the median of the per-pair ratios).

    Others share this machine; a pair sees the same load, so the ratio holds when the load
    drifts between pairs.
    """
    ours: list[Timed] = []
    reference: list[Timed] = []
    for index in range(repeat):
        if index % 2:
            reference.append(run(_reference(instances), choice=loop))
            ours.append(run(_ours(instances), choice=loop))
        else:
            ours.append(run(_ours(instances), choice=loop))
            reference.append(run(_reference(instances), choice=loop))

    def medians(runs: list[Timed]) -> Timed:
        return statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs)

    ratio = statistics.median(o[0] / r[0] for o, r in zip(ours, reference, strict=True))
    return medians(ours), medians(reference), ratio


def _tls_files(directory: Path) -> tuple[Path, Path, Path]:
    """(certificate chain, key, CA) for 127.0.0.1, made on the fly."""
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    chain, key, ca_file = directory / "cert.pem", directory / "key.pem", directory / "ca.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(chain))
    cert.private_key_pem.write_to_path(str(key))
    ca.cert_pem.write_to_path(str(ca_file))
    return chain, key, ca_file


def _scenario_plain(args: argparse.Namespace, report: Report, loops: list[LoopChoice]) -> None:
    # 3 requests per instance that the audit needs, plus the warm-up that opens the second
    # connection during the login (both clients send it).
    requests = args.instances * 4
    with fake_fleet(args.instances, args.apps, latency=args.latency) as urls:
        everyone = instances_for(urls, args.apps)
        # Warm imports, code paths and the fake's cache of each instance's app list.
        run(_ours(everyone))
        run(_reference(everyone))
        for loop in loops:
            (ours, ours_cpu), (reference, reference_cpu), ratio = _paired(
                everyone, args.repeat, loop
            )
            bound = 2 * args.latency
            label = f"{loop_name(loop)}, {args.instances} x {args.latency * 1000:g} ms"
            report.info(f"{label}: gc-tui audit", f"{ours:.3f} s = {ours / bound:.2f}x bound")
            report.info(
                f"{label}: tuned httpx script",
                f"{reference:.3f} s = {reference / bound:.2f}x bound",
            )
            report.info(
                f"{label}: client CPU per request",
                f"gc-tui {ours_cpu / requests * 1000:.2f} ms, "
                f"script {reference_cpu / requests * 1000:.2f} ms ({requests} requests)",
            )
            if loop == loops[0]:
                report.check(
                    f"gc-tui / tuned httpx at {args.instances} instances",
                    ratio,
                    1.25,
                    "x",
                    "median of back-to-back pairs",
                )


def _scenario_tls(args: argparse.Namespace, report: Report, loops: list[LoopChoice]) -> None:
    from dataclasses import replace

    with tempfile.TemporaryDirectory() as scratch:
        chain, key, ca_file = _tls_files(Path(scratch))
        tls = ["--tls-cert", str(chain), "--tls-key", str(key)]
        with fake_fleet(1, args.apps, latency=0.0, extra=tls) as urls:
            one = [replace(i, ca_file=ca_file) for i in instances_for(urls, args.apps)]
            floors = {loop: _median(_ours, one, max(3, args.repeat), loop)[0] for loop in loops}
        with fake_fleet(args.tls_instances, args.apps, latency=args.tls_latency, extra=tls) as urls:
            everyone = [replace(i, ca_file=ca_file) for i in instances_for(urls, args.apps)]
            run(_ours(everyone))
            bound = 2 * args.tls_latency
            for loop in loops:
                (wall, cpu), (reference, _), _ = _paired(everyone, args.repeat, loop)
                ratio = (wall - floors[loop]) / bound
                label = (
                    f"{loop_name(loop)}, TLS {args.tls_instances} x {args.tls_latency * 1000:g} ms"
                )
                report.info(
                    f"{label}: gc-tui audit",
                    f"{wall:.3f} s (fixed cost {floors[loop]:.3f} s) = {ratio:.2f}x bound",
                )
                report.info(f"{label}: tuned httpx script", f"{reference:.3f} s")
                report.info(
                    f"{label}: client CPU per request",
                    f"{cpu / (args.tls_instances * 4) * 1000:.2f} ms",
                )
                if loop == loops[0]:
                    report.check(f"TLS ratio to bound at {args.tls_instances}", ratio, 2.5, "x")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--tls-instances", type=int, default=40)
    parser.add_argument("--tls-latency", type=float, default=0.15)
    parser.add_argument("--apps", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=7, help="runs per figure; the median counts")
    parser.add_argument(
        "--loop", choices=["auto", "uvloop", "asyncio"], default="auto",
        help="the event loop judged against the targets (auto: the one gc-tui audit uses)",
    )
    parser.add_argument("--smoke", action="store_true", help="a quick run: 20 and 8 instances")
    args = parser.parse_args(argv)
    if args.smoke:
        args.instances, args.tls_instances, args.repeat = 20, 8, 1
    judged: LoopChoice = args.loop
    loops: list[LoopChoice] = [judged]
    if loop_name(judged) == "uvloop":
        loops.append("asyncio")
    report = Report(f"audit on httpx, judged on the {loop_name(judged)} event loop")
    _scenario_plain(args, report, loops)
    _scenario_tls(args, report, loops)
    return report.exit_code()


if __name__ == "__main__":
    sys.exit(main())
