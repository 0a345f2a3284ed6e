"""The HTTP/1.1 pool against raw loopback servers that frame bodies every way a real nginx
or Express may: Content-Length, chunked, until close; answers that break the rules; slow
answers; and connections that the server closes while they sit idle."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest

from gc_tui.core.transport import (
    ConnectFailed,
    ConnectionBroke,
    HttpError,
    HttpPool,
    ProtocolViolation,
    ReadTimedOut,
    TooLarge,
)

Answer = Callable[[int], bytes]


@dataclass
class Served:
    """What the raw server saw: request heads and bodies, and how many connections."""

    heads: list[bytes] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    connections: int = 0


@asynccontextmanager
async def raw_server(
    answer: Answer,
    *,
    close_after: bool = False,
    write: Callable[[asyncio.StreamWriter, bytes], Awaitable[None]] | None = None,
) -> AsyncIterator[tuple[str, Served]]:
    """Answers request n (counted over all connections, from 1) with ``answer(n)``."""
    served = Served()

    async def send(writer: asyncio.StreamWriter, data: bytes) -> None:
        writer.write(data)
        await writer.drain()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        served.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                served.heads.append(head)
                served.bodies.append(await reader.readexactly(length) if length else b"")
                await (write or send)(writer, answer(len(served.heads)))
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


@asynccontextmanager
async def client(base: str, **options: float) -> AsyncIterator[HttpPool]:
    settings: dict[str, float] = {"read_timeout": 2.0, **options}
    pool = HttpPool(
        base,
        ssl_context=None,
        read_timeout=settings["read_timeout"],
        max_body_bytes=int(settings.get("max_body_bytes", 1 << 20)),
    )
    try:
        yield pool
    finally:
        await pool.aclose()


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


def sized(body: bytes, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n%s\r\n%s" % (len(body), extra, body)


BODY = b'{"status":100,"description":"ok","data":{"n":1}}'


class TestBodies:
    async def test_content_length_on_a_kept_alive_connection(self) -> None:
        async with raw_server(lambda n: sized(BODY)) as (base, served):
            async with client(base) as http:
                bodies = [(await http.request("GET", "/x")).body for _ in range(3)]
        assert bodies == [BODY] * 3
        assert len(served.heads) == 3 and served.connections == 1

    async def test_chunked(self) -> None:
        async with raw_server(lambda n: chunked(BODY)) as (base, served):
            async with client(base) as http:
                first = (await http.request("GET", "/x")).body
                second = (await http.request("GET", "/y")).body
        assert first == second == BODY and served.connections == 1

    async def test_chunked_with_extensions_and_trailers(self) -> None:
        answer = (
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
            b"5;name=value\r\nhello\r\n0\r\nx-trailer: 1\r\n\r\n"
        )
        async with raw_server(lambda n: answer) as (base, _):
            async with client(base) as http:
                assert (await http.request("GET", "/x")).body == b"hello"

    async def test_until_close(self) -> None:
        answer = b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n" + BODY
        async with raw_server(lambda n: answer, close_after=True) as (base, served):
            async with client(base) as http:
                bodies = [(await http.request("GET", "/x")).body for _ in range(2)]
        assert bodies == [BODY, BODY] and served.connections == 2

    async def test_bytes_arriving_one_at_a_time(self) -> None:
        async def drip(writer: asyncio.StreamWriter, data: bytes) -> None:
            for index in range(len(data)):
                writer.write(data[index : index + 1])
                await writer.drain()
                await asyncio.sleep(0)

        async with raw_server(lambda n: chunked(BODY, 3), write=drip) as (base, _):
            async with client(base) as http:
                assert (await http.request("GET", "/x")).body == BODY

    async def test_an_interim_100_answer_is_skipped(self) -> None:
        answer = b"HTTP/1.1 100 Continue\r\n\r\n" + sized(BODY)
        async with raw_server(lambda n: answer) as (base, _):
            async with client(base) as http:
                response = await http.request("POST", "/x", body=b"{}")
        assert response.status == 200 and response.body == BODY

    async def test_headers_are_lower_case_and_repeats_are_joined(self) -> None:
        answer = sized(BODY, b"Content-Type: application/json\r\nX-A: 1\r\nx-a: 2\r\n")
        async with raw_server(lambda n: answer) as (base, _):
            async with client(base) as http:
                response = await http.request("GET", "/x")
        assert response.headers["content-type"] == "application/json"
        assert response.headers["x-a"] == "1, 2"

    async def test_a_head_request_reads_no_body(self) -> None:
        answer = b"HTTP/1.1 200 OK\r\ncontent-length: 500\r\n\r\n"
        async with raw_server(lambda n: answer) as (base, served):
            async with client(base) as http:
                assert (await http.request("HEAD", "/x")).body == b""
                assert (await http.request("HEAD", "/x")).status == 200
        assert served.connections == 1

    @pytest.mark.parametrize(
        ("broken", "error"),
        [
            (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nxx\r\n0\r\n\r\n",
             ProtocolViolation),
            (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n10\r\nshort", ConnectionBroke),
            (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabcXY0\r\n\r\n",
             ProtocolViolation),
            (b"HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\n", ProtocolViolation),
            (b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nshort", ConnectionBroke),
            (b"HTTP/1.1 200 OK\r\ncontent-length: 3, 4\r\n\r\nabcd", ProtocolViolation),
            (b"HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n", ProtocolViolation),
            (b"HTTP/1.1 200 OK\r\n bad: folded\r\n\r\n", ProtocolViolation),
            (b"HTTP/1.1 200 OK\r\ncontent-le", ConnectionBroke),
            (b"NOT HTTP AT ALL\r\n\r\n", ProtocolViolation),
        ],
    )
    async def test_broken_framing(self, broken: bytes, error: type[HttpError]) -> None:
        async with raw_server(lambda n: broken, close_after=True) as (base, _):
            async with client(base) as http:
                with pytest.raises(error):
                    await http.request("GET", "/x")

    async def test_a_huge_header_block_is_refused(self) -> None:
        answer = b"HTTP/1.1 200 OK\r\nx-junk: " + b"a" * 200_000 + b"\r\n\r\n"
        async with raw_server(lambda n: answer, close_after=True) as (base, _):
            async with client(base) as http:
                with pytest.raises(ProtocolViolation, match="headers too large"):
                    await http.request("GET", "/x")


class TestLimits:
    async def test_a_declared_length_over_the_cap_is_refused_before_reading(self) -> None:
        answer = b"HTTP/1.1 200 OK\r\ncontent-length: 5000000\r\n\r\n"
        async with raw_server(lambda n: answer, close_after=True) as (base, _):
            async with client(base, max_body_bytes=1000) as http:
                with pytest.raises(TooLarge, match=r"too large \(5000000 bytes\)"):
                    await http.request("GET", "/x")

    async def test_a_chunked_body_over_the_cap_stops_reading(self) -> None:
        async with raw_server(lambda n: chunked(b"x" * 5000, 100)) as (base, _):
            async with client(base, max_body_bytes=1000) as http:
                with pytest.raises(TooLarge, match="larger than 1000 bytes"):
                    await http.request("GET", "/x")

    async def test_a_server_that_stops_sending_times_out(self) -> None:
        async def stall(writer: asyncio.StreamWriter, data: bytes) -> None:
            writer.write(data[:20])
            await writer.drain()
            await asyncio.sleep(5)

        async with raw_server(lambda n: sized(BODY), write=stall) as (base, _):
            async with client(base, read_timeout=0.2) as http:
                with pytest.raises(ReadTimedOut):
                    await http.request("GET", "/x")

    async def test_the_read_timeout_counts_from_the_last_byte(self) -> None:
        """A slow but steady answer outlives the read timeout; only silence trips it."""
        async def slow(writer: asyncio.StreamWriter, data: bytes) -> None:
            for index in range(0, len(data), 10):
                writer.write(data[index : index + 10])
                await writer.drain()
                await asyncio.sleep(0.05)

        async with raw_server(lambda n: sized(BODY), write=slow) as (base, _):
            async with client(base, read_timeout=0.15) as http:  # the whole answer takes ~0.4 s
                assert (await http.request("GET", "/x")).body == BODY


class TestRequests:
    async def test_what_goes_on_the_wire(self) -> None:
        async with raw_server(lambda n: sized(BODY)) as (base, served):
            async with client(base) as http:
                await http.request("POST", "/api/v2/login?x=1", [("X-Test", "a")], b'{"a":1}')
                await http.request("POST", "/empty")
        first = served.heads[0].split(b"\r\n")
        port = base.rsplit(":", 1)[1]
        assert first[0] == b"POST /api/v2/login?x=1 HTTP/1.1"
        assert f"Host: 127.0.0.1:{port}".encode() in first
        assert b"X-Test: a" in first and b"Content-Length: 7" in first
        assert served.bodies[0] == b'{"a":1}'
        assert b"Content-Length: 0" in served.heads[1].split(b"\r\n")

    @pytest.mark.parametrize("value", ["a\r\nx-evil: 1", "a\nb", "a\0b"])
    async def test_a_header_that_would_forge_another_is_never_sent(self, value: str) -> None:
        async with raw_server(lambda n: sized(BODY)) as (base, served):
            async with client(base) as http:
                with pytest.raises(ProtocolViolation):
                    await http.request("GET", "/x", [("x-captain-auth", value)])
        assert served.heads == []

    async def test_a_switched_protocol_is_never_reused(self) -> None:
        answer = b"HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: x\r\n\r\n"
        async with raw_server(lambda n: answer) as (base, served):
            async with client(base) as http:
                for _ in range(2):
                    assert (await http.request("GET", "/x")).status == 101
        assert served.connections == 2

    async def test_leftover_bytes_after_an_answer_retire_the_connection(self) -> None:
        async with raw_server(lambda n: sized(BODY) + b"GARBAGE") as (base, served):
            async with client(base) as http:
                for _ in range(2):
                    assert (await http.request("GET", "/x")).body == BODY
        assert served.connections == 2


class TestConnections:
    async def test_a_connection_the_server_closed_while_idle_is_not_reused(self) -> None:
        """Keep-alive servers close idle connections; the next request must not fail for it."""
        async with raw_server(lambda n: sized(BODY), close_after=True) as (base, served):
            async with client(base) as http:
                await http.request("GET", "/x")
                await asyncio.sleep(0.05)  # the server has closed it by now
                assert (await http.request("GET", "/y")).body == BODY
        assert len(served.heads) == 2

    async def test_a_request_the_server_began_to_answer_is_never_sent_again(self) -> None:
        """Only a reused connection that closed before any byte is retried: after an interim
        100 the server has the request, and sending it again could deploy twice."""
        def answer(n: int) -> bytes:
            return sized(BODY) if n == 1 else b"HTTP/1.1 100 Continue\r\n\r\n"

        async def then_close(writer: asyncio.StreamWriter, data: bytes) -> None:
            writer.write(data)
            await writer.drain()
            if data.startswith(b"HTTP/1.1 100"):
                writer.close()

        async with raw_server(answer, write=then_close) as (base, served):
            async with client(base) as http:
                await http.request("GET", "/x")
                with pytest.raises(ConnectionBroke, match="before the end|middle of the headers"):
                    await http.request("POST", "/deploy", body=b"{}")
        assert len(served.heads) == 2

    async def test_a_fresh_connection_closed_without_an_answer_is_an_error(self) -> None:
        async with raw_server(lambda n: b"", close_after=True) as (base, _):
            async with client(base) as http:
                with pytest.raises(ConnectionBroke, match="without sending a response"):
                    await http.request("GET", "/x")

    async def test_refused(self) -> None:
        with socket.socket() as holder:
            holder.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
            port = holder.getsockname()[1]
            async with client(f"http://127.0.0.1:{port}") as http:
                with pytest.raises(ConnectFailed) as caught:
                    await http.request("GET", "/x")
        assert isinstance(caught.value.__cause__, OSError)

    async def test_a_url_that_is_not_http_fails_each_request(self) -> None:
        async with client("ftp://example.invalid") as http:
            with pytest.raises(ConnectFailed):
                await http.request("GET", "/x")

    async def test_preconnect_opens_connections_that_requests_then_use(self) -> None:
        async with raw_server(lambda n: sized(BODY)) as (base, served):
            async with client(base) as http:
                await http.preconnect(2)
                await asyncio.sleep(0.05)
                assert served.connections == 2
                await asyncio.gather(http.request("GET", "/a"), http.request("GET", "/b"))
                await http.preconnect(2)  # already open: nothing more
        assert served.connections == 2 and len(served.heads) == 2

    async def test_preconnect_swallows_failures(self) -> None:
        with socket.socket() as holder:
            holder.bind(("127.0.0.1", 0))
            async with client(f"http://127.0.0.1:{holder.getsockname()[1]}") as http:
                await http.preconnect(2)  # refused: no exception

    async def test_a_cancelled_request_does_not_leave_its_connection_in_the_pool(self) -> None:
        async def stall(writer: asyncio.StreamWriter, data: bytes) -> None:
            await asyncio.sleep(0.5)
            writer.write(data)
            await writer.drain()

        async with raw_server(lambda n: sized(b'"%d"' % n), write=stall) as (base, served):
            async with client(base) as http:
                with pytest.raises(TimeoutError):
                    async with asyncio.timeout(0.1):
                        await http.request("GET", "/first")
                # The late answer to /first must not be read as the answer to /second.
                assert (await http.request("GET", "/second")).body == b'"2"'
        assert served.connections == 2
