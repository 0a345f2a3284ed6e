"""Scripted HTTP servers on loopback, for behaviour the fake CapRover cannot show: a server
that reads a request and hangs up, one that goes silent on idle connections, one that resets.

Each server counts what it received itself, so a test asserts on the server's own record,
never on what our client believes it sent. The CapRover answers they give follow
docs/caprover.md (the envelope, the login's token).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RawRequest:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes


@dataclass
class ServerRecord:
    """What the server saw: connections accepted and requests read, in order."""

    connections: int = 0
    requests: list[RawRequest] = field(default_factory=list)

    def count(self, method: str, path_part: str) -> int:
        return sum(1 for r in self.requests if r.method == method and path_part in r.target)


Handler = Callable[
    [asyncio.StreamReader, asyncio.StreamWriter, ServerRecord], Awaitable[None]
]


async def read_request(reader: asyncio.StreamReader) -> RawRequest | None:
    """One request (head and Content-Length body); None when the client closed instead."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    try:
        body = await reader.readexactly(int(headers.get("content-length", "0")))
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    return RawRequest(method, target, headers, body)


def answer(status: int, body: bytes, content_type: str = "application/json") -> bytes:
    head = (
        f"HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


def envelope(status: int, description: str, data: Any = None) -> bytes:
    """CapRover's answer: always HTTP 200, keys in this order (docs/caprover.md)."""
    payload = {"status": status, "description": description, "data": data or {}}
    return answer(200, json.dumps(payload).encode())


LOGIN_OK = envelope(100, "Login succeeded", {"token": "raw-server-token"})


def reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP reset (SO_LINGER 0) instead of a graceful FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


@asynccontextmanager
async def raw_server(
    handler: Handler, *, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[tuple[str, ServerRecord]]:
    """Serve ``handler`` per connection; yields (``http://host:port``, the record)."""
    record = ServerRecord()
    tasks: set[asyncio.Task[None]] = set()

    async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        record.connections += 1
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        try:
            await handler(reader, writer, record)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            # Stopped at the end of the test: ending normally keeps asyncio's stream
            # callback from logging the cancellation as an error.
            pass
        finally:
            tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    server = await asyncio.start_server(on_connection, host, port)
    bound = server.sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{bound}", record
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()
