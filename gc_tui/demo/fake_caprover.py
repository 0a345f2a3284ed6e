"""Fake CapRover servers for tests, the demo and benchmarks.

The importable API is re-exported by ``gc_tui.demo`` (FakeApp, FakeInstance, FakeFleet,
FakeFleetThread, demo_instances, synthetic_fleet, ...).

As a program it serves a fleet until killed (or until its stdin closes, when stdin is a pipe)::

    python -m gc_tui.demo.fake_caprover --synthetic 200 --apps 12 --latency 0.1
    python -m gc_tui.demo.fake_caprover --demo

and prints one line, ``READY {"<name>": "<url>", ...}``, once every server listens.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import ssl
import stat
import sys
from typing import Any

from gc_tui.demo.catalog import demo_instances, synthetic_fleet
from gc_tui.demo.fleet import FakeFleet
from gc_tui.demo.instance import FakeInstance


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m gc_tui.demo.fake_caprover")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--demo", action="store_true", help="serve the packaged demo fleet")
    which.add_argument("--synthetic", type=int, metavar="N", help="serve N synthetic instances")
    parser.add_argument("--apps", type=int, default=12, help="apps per synthetic instance")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added per request")
    parser.add_argument("--build-seconds", type=float, default=None)
    parser.add_argument("--service-update-seconds", type=float, default=None)
    parser.add_argument("--update-pull-seconds", type=float, default=None)
    parser.add_argument("--restart-seconds", type=float, default=None)
    parser.add_argument("--not-ready-seconds", type=float, default=None)
    parser.add_argument("--tls-cert", help="PEM certificate chain: serve HTTPS")
    parser.add_argument("--tls-key", help="PEM private key for --tls-cert")
    args = parser.parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls-cert and --tls-key go together")
    return args


def _instances(args: argparse.Namespace) -> list[FakeInstance]:
    timings: dict[str, Any] = {"latency_seconds": args.latency}
    for option in (
        "build_seconds",
        "service_update_seconds",
        "update_pull_seconds",
        "restart_seconds",
        "not_ready_seconds",
    ):
        value = getattr(args, option)
        if value is not None:
            timings[option] = value
    if args.demo:
        return demo_instances(**timings)
    return synthetic_fleet(args.synthetic, args.apps, seed=args.seed, **timings)


def _stdin_is_a_pipe() -> bool:
    try:
        mode = os.fstat(sys.stdin.fileno()).st_mode
    except (OSError, ValueError, AttributeError):
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


async def _serve(args: argparse.Namespace) -> None:
    context = None
    if args.tls_cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.tls_cert, args.tls_key)
    fleet = FakeFleet(_instances(args), ssl_context=context)
    await fleet.start()
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, done.set)
    if _stdin_is_a_pipe():
        # The parent closing our stdin (or dying) ends the fleet: no orphan servers.
        loop.run_in_executor(None, _wait_for_eof, loop, done)
    sys.stdout.write("READY " + json.dumps(fleet.urls()) + "\n")
    sys.stdout.flush()
    try:
        await done.wait()
    finally:
        await fleet.stop()


def _wait_for_eof(loop: asyncio.AbstractEventLoop, done: asyncio.Event) -> None:
    fileno = sys.stdin.fileno()
    while os.read(fileno, 65536):
        pass
    loop.call_soon_threadsafe(done.set)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    asyncio.run(_serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
