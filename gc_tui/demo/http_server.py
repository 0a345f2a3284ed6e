"""A deliberately tiny HTTP/1.1 server on ``asyncio.start_server``.

Only what the fake CapRover needs: keep-alive, Content-Length request bodies, and a few ways of
misbehaving on purpose (streamed, dripped or truncated bodies). No framework: benchmarks run
hundreds of fake servers in one process and measure the client's CPU, so the fake must stay cheap.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import parse_qsl, unquote, urlsplit

_MAX_HEAD = 64 * 1024
_MAX_BODY = 8 * 1024 * 1024


@dataclass
class Request:
    method: str
    target: str
    path: str  # percent-decoded, as sent (case kept)
    query: dict[str, str]  # the last value wins, blank values kept
    headers: dict[str, str]  # lower-case names
    body: bytes


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str | None = "application/json; charset=utf-8"
    headers: list[tuple[str, str]] = field(default_factory=list)
    # A streamed body; ``content_length`` must then be set.
    chunks: AsyncIterator[bytes] | None = None
    # Declared length when it must differ from the body (the "truncated" fault).
    content_length: int | None = None
    drip_interval: float = 0.0  # > 0: send the body one byte at a time
    close_after: bool = False
    # Run once the response is written or the write failed (releases the 429 lock).
    on_finished: list[Callable[[], None]] = field(default_factory=list)


Handler = Callable[[Request], Awaitable[Response]]


class _BadRequest(Exception):
    pass


def _parse_head(head: bytes) -> tuple[str, str, str, dict[str, str]]:
    try:
        text = head.decode("latin-1")
        request_line, *header_lines = text.split("\r\n")
        method, target, version = request_line.split(" ", 2)
    except ValueError:
        raise _BadRequest from None
    headers: dict[str, str] = {}
    for line in header_lines:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise _BadRequest
        headers[name.strip().lower()] = value.strip()
    return method.upper(), target, version, headers


def _encode_head(response: Response, length: int, keep_alive: bool) -> bytes:
    try:
        reason = HTTPStatus(response.status).phrase
    except ValueError:
        reason = "Unknown"
    lines = [f"HTTP/1.1 {response.status} {reason}"]
    if response.content_type is not None:
        lines.append(f"Content-Type: {response.content_type}")
    lines.extend(f"{name}: {value}" for name, value in response.headers)
    lines.append(f"Content-Length: {length}")
    lines.append("Connection: keep-alive" if keep_alive else "Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class HttpServer:
    """One listening socket; ``stop_listening``/``start_listening`` keep the same port."""

    def __init__(
        self,
        handler: Handler,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._handler = handler
        self.host = host
        self.port = port
        self._ssl = ssl_context
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    @property
    def listening(self) -> bool:
        return self._server is not None

    async def start_listening(self) -> None:
        if self._server is not None:
            return
        self._server = await asyncio.start_server(
            self._serve, self.host, self.port, ssl=self._ssl, reuse_address=True, backlog=1024
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop_listening(self, *, drop_connections: bool = True) -> None:
        """Close the listener (connections are then refused) and, by default, open sockets."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        if drop_connections:
            tasks = list(self._connections)
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(BaseException):
                    await task
        if server is not None:
            with contextlib.suppress(Exception):
                await server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await self._serve_connection(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError, OSError):
            pass
        except asyncio.CancelledError:
            # Only stop_listening cancels us; ending quietly keeps asyncio's stream callback
            # from logging the cancellation as an error.
            pass
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(BaseException):
                # A peer that vanished mid-TLS can make this hang: bound it.
                await asyncio.wait_for(writer.wait_closed(), 1.0)

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                return  # the client closed between requests
            except asyncio.LimitOverrunError:
                await self._write_plain(writer, 431, "Request Header Fields Too Large")
                return
            try:
                method, target, version, headers = _parse_head(head)
                body = await self._read_body(reader, headers)
            except _BadRequest:
                await self._write_plain(writer, 400, "Bad Request")
                return
            parts = urlsplit(target)
            request = Request(
                method=method,
                target=target,
                path=unquote(parts.path),
                query=dict(parse_qsl(parts.query, keep_blank_values=True)),
                headers=headers,
                body=body,
            )
            keep_alive = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
            try:
                response = await self._handler(request)
            except Exception:  # noqa: BLE001 - a bug in the fake must look like a server error, not a hang
                response = Response(500, b"Internal Server Error", "text/plain; charset=utf-8")
            try:
                keep_alive = keep_alive and not response.close_after
                await self._write(writer, response, keep_alive)
            finally:
                for callback in response.on_finished:
                    callback()
            if not keep_alive:
                return

    @staticmethod
    async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
        if "transfer-encoding" in headers:
            raise _BadRequest  # not needed by any client we test; refuse rather than guess
        try:
            length = int(headers.get("content-length", "0"))
        except ValueError:
            raise _BadRequest from None
        if length < 0 or length > _MAX_BODY:
            raise _BadRequest
        return await reader.readexactly(length) if length else b""

    @staticmethod
    async def _write_plain(writer: asyncio.StreamWriter, status: int, text: str) -> None:
        response = Response(status, text.encode(), "text/plain; charset=utf-8")
        writer.write(_encode_head(response, len(response.body), False) + response.body)
        await writer.drain()

    @staticmethod
    async def _write(writer: asyncio.StreamWriter, response: Response, keep_alive: bool) -> None:
        if response.chunks is not None:
            assert response.content_length is not None
            writer.write(_encode_head(response, response.content_length, keep_alive))
            async for chunk in response.chunks:
                writer.write(chunk)
                await writer.drain()
            return
        length = len(response.body) if response.content_length is None else response.content_length
        head = _encode_head(response, length, keep_alive)
        if response.drip_interval > 0:
            writer.write(head)
            await writer.drain()
            for index in range(len(response.body)):
                await asyncio.sleep(response.drip_interval)
                writer.write(response.body[index : index + 1])
                await writer.drain()
            return
        writer.write(head + response.body)
        await writer.drain()
