"""The lean HTTP/1.1 transport against raw loopback servers that frame bodies every way a
real nginx or Express may: Content-Length, chunked, until close; and connections that the
server closes while they sit idle."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
import pytest

from gc_tui.core.transport import StreamTransport



@asynccontextmanager
async def raw_server(answer: Callable[[int], bytes], *, close_after: bool = False) -> AsyncIterator[tuple[str, list[int]]]:
    """Answers each request with ``answer(n)`` (n counts requests on all connections)."""
    served: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                if length:
                    await reader.readexactly(length)
                served.append(len(served))
                writer.write(answer(len(served)))
                await writer.drain()
                if close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", served
    finally:
        server.close()
        await server.wait_closed()


def client(base: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=base, transport=StreamTransport(ssl_context=None), timeout=2.0
    )


def chunked(body: bytes, size: int = 7) -> bytes:
    pieces = b"".join(
        b"%x\r\n%s\r\n" % (len(body[i : i + size]), body[i : i + size])
        for i in range(0, len(body), size)
    )
    return (
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
        + pieces
        + b"0\r\n\r\n"
    )


BODY = b'{"status":100,"description":"ok","data":{"n":1}}'


class TestBodies:
    async def test_content_length_on_a_kept_alive_connection(self) -> None:
        answer = b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(BODY), BODY)
        async with raw_server(lambda n: answer) as (base, served):
            async with client(base) as http:
                bodies = [(await http.get("/x")).content for _ in range(3)]
        assert bodies == [BODY] * 3 and len(served) == 3

    async def test_chunked(self) -> None:
        async with raw_server(lambda n: chunked(BODY)) as (base, _):
            async with client(base) as http:
                first, second = (await http.get("/x")).content, (await http.get("/y")).content
        assert first == second == BODY

    async def test_until_close(self) -> None:
        answer = b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n" + BODY
        async with raw_server(lambda n: answer, close_after=True) as (base, served):
            async with client(base) as http:
                bodies = [(await http.get("/x")).content for _ in range(2)]
        assert bodies == [BODY, BODY] and len(served) == 2

    @pytest.mark.parametrize(
        "broken",
        [
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nxx\r\n0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n10\r\nshort",
            b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nshort",
            b"NOT HTTP AT ALL\r\n\r\n",
        ],
    )
    async def test_broken_framing_is_a_protocol_error(self, broken: bytes) -> None:
        async with raw_server(lambda n: broken, close_after=True) as (base, _):
            async with client(base) as http:
                with pytest.raises(httpx.HTTPError):
                    await http.get("/x")

    async def test_a_huge_header_block_is_refused(self) -> None:
        answer = b"HTTP/1.1 200 OK\r\nx-junk: " + b"a" * 200_000 + b"\r\n\r\n"
        async with raw_server(lambda n: answer, close_after=True) as (base, _):
            async with client(base) as http:
                with pytest.raises(httpx.HTTPError):
                    await http.get("/x")


async def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    """Keep-alive servers close idle connections; the next request must not fail for it."""
    answer = b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(BODY), BODY)
    async with raw_server(lambda n: answer, close_after=True) as (base, served):
        async with client(base) as http:
            await http.get("/x")
            await asyncio.sleep(0.05)  # the server has closed it by now
            assert (await http.get("/y")).content == BODY
    assert len(served) == 2
