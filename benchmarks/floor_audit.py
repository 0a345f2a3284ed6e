"""The floor of the audit benchmark on this machine: the least Python can do, both sides.

A reference, not a target. The same shape as bench_audit.py (a server process with N ports
and 100 ms slept per request; a client logging in, then asking for the app list and the
version side by side on two connections, the second opened during the login), but both sides
are a few lines of ``asyncio.Protocol`` with canned answers: no parsing beyond the framing and
``json.loads``, no validation, no error handling, no timeouts, no pool. Whatever this measures
is the cost of Python's event loop and sockets on two shared cores, which gc-tui cannot go
below; bench_audit.py's figures are best read against it.

    python benchmarks/floor_audit.py [--instances 200] [--small 50] [--repeat 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import ClassVar, cast

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

LOGIN = b'{"status":100,"description":"Login succeeded","data":{"token":"t"}}'
VERSION = (
    b'{"status":100,"description":"ok","data":'
    b'{"currentVersion":"1.14.0","latestVersion":"1.15.3","canUpdate":true}}'
)


def _app_list(apps: int) -> bytes:
    """The fake's own appDefinitions answer for a synthetic instance, so sizes match."""
    from gc_tui.demo.app_listing import AppListing
    from gc_tui.demo.catalog import synthetic_fleet

    return AppListing(synthetic_fleet(1, apps)[0]).response().body


def _answer(body: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (
        len(body),
        body,
    )


class _Server(asyncio.Protocol):
    answers: ClassVar[dict[bytes, bytes]] = {}
    latency: ClassVar[float] = 0.1

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
            path = head.split(b" ", 2)[1]
            answer = self.answers[path.rsplit(b"/", 1)[-1]]
            asyncio.get_running_loop().call_later(self.latency, self.transport.write, answer)


async def _serve(instances: int, apps: int, latency: float) -> None:
    _Server.latency = latency
    _Server.answers = {
        b"login": _answer(LOGIN),
        b"appDefinitions": _answer(_app_list(apps)),
        b"versionInfo": _answer(VERSION),
    }
    loop = asyncio.get_running_loop()
    servers = [
        await loop.create_server(_Server, "127.0.0.1", 0, backlog=1024) for _ in range(instances)
    ]
    print("READY " + json.dumps([s.sockets[0].getsockname()[1] for s in servers]), flush=True)
    await loop.run_in_executor(None, sys.stdin.read)


class _Client(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.buffer = b""
        self.waiter: asyncio.Future[bytes] | None = None

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        head, found, rest = self.buffer.partition(b"\r\n\r\n")
        if not found:
            return
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        if len(rest) >= length and self.waiter is not None:
            self.buffer = b""
            self.waiter.set_result(rest[:length])

    async def get(self, path: bytes) -> dict[str, object]:
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        return json.loads(await self.waiter)  # type: ignore[no-any-return]


async def _audit_one(port: int) -> None:
    loop = asyncio.get_running_loop()
    _, first = await loop.create_connection(_Client, "127.0.0.1", port)
    second = asyncio.ensure_future(loop.create_connection(_Client, "127.0.0.1", port))
    await first.get(b"/api/v2/login")
    _, other = await second
    await asyncio.gather(
        first.get(b"/api/v2/user/apps/appDefinitions"),
        other.get(b"/api/v2/user/system/versionInfo"),
    )
    first.transport.close()
    other.transport.close()


async def _audit(ports: list[int]) -> float:
    start = time.perf_counter()
    await asyncio.gather(*(_audit_one(port) for port in ports))
    return time.perf_counter() - start


def _median(ports: list[int], repeat: int) -> float:
    return statistics.median(asyncio.run(_audit(ports)) for _ in range(repeat))


def _with_server(instances: int, apps: int, latency: float) -> subprocess.Popen[str]:
    command = [sys.executable, __file__, "--serve", str(instances), "--apps", str(apps),
               "--latency", str(latency)]
    return subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def _ports(process: subprocess.Popen[str]) -> list[int]:
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("READY "):
        raise SystemExit(f"the floor server did not start: {line!r}")
    return list(json.loads(line[len("READY "):]))


def _stop(process: subprocess.Popen[str]) -> None:
    assert process.stdin is not None
    process.stdin.close()
    process.wait(timeout=10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=200)
    parser.add_argument("--small", type=int, default=50)
    parser.add_argument("--apps", type=int, default=12)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--serve", type=int, metavar="N", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        asyncio.run(_serve(args.serve, args.apps, args.latency))
        return 0

    bound = 2 * args.latency
    server = _with_server(1, args.apps, 0.0)
    try:
        floor = _median(_ports(server), args.repeat)
    finally:
        _stop(server)
    server = _with_server(args.instances, args.apps, args.latency)
    try:
        ports = _ports(server)
        asyncio.run(_audit(ports[:5]))
        small = _median(ports[: args.small], args.repeat)
        full = _median(ports, args.repeat)
    finally:
        _stop(server)
    print(
        "== floor: minimal asyncio client and server, "
        f"{args.instances} instances x {args.apps} apps"
    )
    print(f"  wall, 1 instance, 0 ms                 {floor:.3f} s")
    print(f"  wall, {args.small} instances                   {small:.3f} s")
    print(f"  wall, {args.instances} instances                  {full:.3f} s")
    ratio = (full - floor) / bound
    growth = (full - small) / small * 100
    print(
        f"  ratio to bound at {args.instances}                 {ratio:.2f}x"
        "  (gc-tui's target: 1.5x)"
    )
    print(
        f"  growth {args.small} -> {args.instances}                   {growth:+.1f} %"
        "  (gc-tui's target: < 10 %)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
