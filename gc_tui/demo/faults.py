"""How a fake server misbehaves on purpose: the answers of each ``Fault``.

Most faults replace CapRover's answer and leave its state alone; ``truncated`` and ``drip``
damage the real answer instead, so the request still has its effect (a deploy, say).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

from gc_tui.demo.http_wire import Request, Response
from gc_tui.demo.instance import FakeInstance, Fault
from gc_tui.demo.responses import HTML, JSON, TEXT, internal_server_error

FAULT_HTML = (
    b"<!DOCTYPE html><html><head><title>Welcome to nginx!</title></head>"
    b"<body><h1>Welcome to nginx!</h1><p>This is not CapRover.</p></body></html>"
)

_DAMAGING = (Fault.TRUNCATED, Fault.DRIP)


def replaces_answer(fault: Fault | None) -> bool:
    return fault is not None and fault not in _DAMAGING


async def fault_answer(
    fault: Fault,
    request: Request,
    instance: FakeInstance,
    *,
    plain_base_url: str,
    real_answer: Callable[[], Awaitable[Response]],
) -> Response:
    """The answer of a fault that replaces CapRover's; ``real_answer`` serves a slow one late."""
    if fault is Fault.SILENT:
        await asyncio.Event().wait()  # until the connection is dropped at shutdown
    if fault is Fault.SLOW:
        await asyncio.sleep(instance.slow_seconds)
        return await real_answer()
    if fault is Fault.HTML:
        return Response(200, FAULT_HTML, HTML)
    if fault is Fault.NOT_JSON:
        return Response(200, b'{"status": 100, "description": "oops', JSON)
    if fault is Fault.EMPTY:
        return Response(200, b"", JSON)
    if fault is Fault.HTTP500:
        return internal_server_error()
    if fault is Fault.REDIRECT_OTHER_HOST:
        return Response(
            302, b"Found", TEXT, headers=[("Location", f"http://evil.invalid{request.target}")]
        )
    if fault is Fault.REDIRECT_TO_HTTP:
        location = f"{plain_base_url}{request.target}"
        return Response(302, b"Found", TEXT, headers=[("Location", location)])
    if fault is Fault.HUGE:
        return Response(
            200,
            content_type=JSON,
            chunks=_huge_body(instance.huge_bytes),
            content_length=instance.huge_bytes,
        )
    raise AssertionError(f"unhandled fault {fault}")


def damage(response: Response, fault: Fault | None, instance: FakeInstance) -> Response:
    """The real answer as a damaging fault sends it (unchanged for any other fault)."""
    if fault is Fault.TRUNCATED:
        # Declare the whole body, send half, hang up.
        response.content_length = len(response.body)
        response.body = response.body[: len(response.body) // 2]
        response.close_after = True
    elif fault is Fault.DRIP:
        response.drip_interval = instance.drip_interval
    return response


async def _huge_body(size: int) -> AsyncIterator[bytes]:
    """A JSON-looking body of exactly ``size`` bytes, never held in memory at once."""
    head = b'{"status": 100, "description": "'
    tail = b'", "data": {}}'
    chunk = b"x" * 65536
    remaining = size
    first = head[:remaining]
    yield first
    remaining -= len(first)
    filler = max(0, remaining - len(tail))
    while filler > 0:
        piece = chunk[: min(filler, len(chunk))]
        filler -= len(piece)
        remaining -= len(piece)
        yield piece
    if remaining > 0:
        yield tail[-remaining:]
