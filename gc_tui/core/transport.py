"""A lean HTTP/1.1 transport for httpx, on asyncio streams.

httpx's default transport (httpcore over anyio) spends about 1.5 ms of CPU per request here,
which at 200 instances costs more than the network does (benchmarks/bench_audit.py). This one
does only what a CapRover client needs: HTTP/1.1 with keep-alive to one origin, TLS through a
shared ``ssl.SSLContext``, bodies framed by Content-Length, chunked encoding or the end of the
connection. The client above it keeps speaking httpx: redirects, the size cap and the total
deadline stay where they are (httpx.AsyncClient and caprover.py); this layer only enforces
the connect, read and pool timeouts that httpx hands it per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator

import httpx

_MAX_HEAD = 64 * 1024  # a status line and headers larger than this are refused
_READ_SIZE = 64 * 1024
_NO_BODY_STATUS = {204, 304}


class _Connection:
    __slots__ = ("reader", "reusable", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.reusable = True

    def looks_open(self) -> bool:
        # A keep-alive connection the server closed while idle shows EOF (or stray bytes).
        return not self.writer.is_closing() and not self.reader.at_eof()

    def close(self) -> None:
        self.reusable = False
        self.writer.close()


class StreamTransport(httpx.AsyncBaseTransport):
    """Up to ``max_connections`` keep-alive connections per origin; TLS via ``ssl_context``."""

    def __init__(self, *, ssl_context: ssl.SSLContext | None, max_connections: int = 4) -> None:
        self._ssl_context = ssl_context
        self._max_connections = max_connections
        self._slots: asyncio.Semaphore | None = None
        self._idle: dict[tuple[bytes, bytes, int], list[_Connection]] = {}
        self._open: set[_Connection] = set()
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._closed:
            raise RuntimeError("the transport is closed")
        timeouts = request.extensions.get("timeout", {})
        url = request.url
        scheme = url.raw_scheme
        if scheme not in (b"http", b"https"):
            raise httpx.UnsupportedProtocol(f"unsupported URL scheme {url.scheme!r}", request=request)
        host = url.raw_host
        port = url.port or (443 if scheme == b"https" else 80)
        origin = (scheme, host, port)
        if self._slots is None:
            self._slots = asyncio.Semaphore(self._max_connections)
        try:
            async with asyncio.timeout(timeouts.get("pool")):
                await self._slots.acquire()
        except TimeoutError:
            raise httpx.PoolTimeout("no free connection in time", request=request) from None
        connection: _Connection | None = None
        try:
            payload = await _encode_request(request)
            # A reused connection the server had just closed fails before any answer: the
            # request never reached the server, so it is sent once more on a fresh one.
            while True:
                connection, reused = self._idle_connection(origin), True
                if connection is None:
                    connection, reused = await self._connect(request, origin, timeouts), False
                try:
                    head = await _send_and_read_head(connection, payload, timeouts.get("read"))
                    break
                except _StaleConnection:
                    connection.close()
                    self._open.discard(connection)
                    if not reused:
                        raise httpx.RemoteProtocolError(
                            "server disconnected without sending a response", request=request
                        ) from None
            status, reason, headers, keep_alive = head
            stream = _BodyStream(self, connection, origin, request, headers, status, keep_alive,
                                 timeouts.get("read"))
        except BaseException as failure:
            if connection is not None:
                connection.close()
                self._open.discard(connection)
            self._slots.release()
            if isinstance(failure, _StaleConnection):
                raise httpx.RemoteProtocolError("server disconnected", request=request) from None
            if isinstance(failure, TimeoutError):
                raise httpx.ReadTimeout("timed out reading the answer", request=request) from None
            if isinstance(failure, (ConnectionError, OSError, asyncio.IncompleteReadError)):
                raise httpx.ReadError(f"connection lost ({type(failure).__name__})", request=request) from None
            if isinstance(failure, _ProtocolError):
                raise httpx.RemoteProtocolError(str(failure), request=request) from None
            raise
        return httpx.Response(
            status,
            headers=headers,
            stream=stream,
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": reason},
        )

    def _idle_connection(self, origin: tuple[bytes, bytes, int]) -> _Connection | None:
        idle = self._idle.get(origin)
        while idle:
            connection = idle.pop()
            if connection.looks_open():
                return connection
            connection.close()
            self._open.discard(connection)
        return None

    async def _connect(
        self, request: httpx.Request, origin: tuple[bytes, bytes, int], timeouts: dict[str, float | None]
    ) -> _Connection:
        scheme, raw_host, port = origin
        host = raw_host.decode("ascii")
        tls = self._ssl_context if scheme == b"https" else None
        if scheme == b"https" and tls is None:
            tls = ssl.create_default_context()
        try:
            async with asyncio.timeout(timeouts.get("connect")):
                reader, writer = await asyncio.open_connection(
                    host,
                    port,
                    ssl=tls,
                    server_hostname=host if tls is not None else None,
                    limit=_MAX_HEAD,
                )
        except TimeoutError:
            raise httpx.ConnectTimeout(f"no connection to {host}:{port} in time", request=request) from None
        except (OSError, ssl.SSLError) as err:
            # The ssl error stays the cause: the client tells "not trusted" from "refused".
            raise httpx.ConnectError(f"cannot connect to {host}:{port}: {err}", request=request) from err
        connection = _Connection(reader, writer)
        self._open.add(connection)
        return connection

    def _release(self, connection: _Connection, origin: tuple[bytes, bytes, int]) -> None:
        if connection.reusable and not self._closed:
            self._idle.setdefault(origin, []).append(connection)
        else:
            connection.close()
            self._open.discard(connection)
        assert self._slots is not None
        self._slots.release()

    async def aclose(self) -> None:
        self._closed = True
        connections, self._open = self._open, set()
        self._idle.clear()
        for connection in connections:
            connection.close()
        for connection in connections:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.writer.wait_closed(), 1.0)


class _StaleConnection(Exception):
    """The connection ended before the first byte of an answer."""


class _ProtocolError(Exception):
    pass


async def _encode_request(request: httpx.Request) -> bytes:
    body = await request.aread()
    lines = [request.method.encode("ascii"), b" ", request.url.raw_path, b" HTTP/1.1\r\n"]
    for name, value in request.headers.raw:
        lower = name.lower()
        if lower == b"transfer-encoding" or (lower == b"content-length" and body):
            continue  # the body is sent whole, with its length, below
        lines += [name, b": ", value, b"\r\n"]
    if body:
        lines += [b"Content-Length: ", str(len(body)).encode("ascii"), b"\r\n"]
    lines += [b"\r\n", body]
    return b"".join(lines)


async def _send_and_read_head(
    connection: _Connection, payload: bytes, read_timeout: float | None
) -> tuple[int, bytes, list[tuple[bytes, bytes]], bool]:
    connection.writer.write(payload)
    async with asyncio.timeout(read_timeout):
        await connection.writer.drain()
        while True:
            try:
                head = await connection.reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError as err:
                if not err.partial:
                    raise _StaleConnection from None
                raise _ProtocolError("the connection closed in the middle of the headers") from None
            except asyncio.LimitOverrunError:
                raise _ProtocolError("response headers too large") from None
            except ConnectionResetError:
                raise _StaleConnection from None
            status, reason, headers, keep_alive = _parse_head(head)
            if not 100 <= status < 200 or status == 101:
                return status, reason, headers, keep_alive
            # An interim 1xx answer: the real one follows.


def _parse_head(head: bytes) -> tuple[int, bytes, list[tuple[bytes, bytes]], bool]:
    status_line, _, rest = head[:-4].partition(b"\r\n")
    version, _, after = status_line.partition(b" ")
    code, _, reason = after.partition(b" ")
    if version not in (b"HTTP/1.1", b"HTTP/1.0") or len(code) != 3 or not code.isdigit():
        raise _ProtocolError("not an HTTP/1.x answer")
    headers: list[tuple[bytes, bytes]] = []
    connection_tokens = b""
    if rest:
        for line in rest.split(b"\r\n"):
            name, colon, value = line.partition(b":")
            if not colon or not name or name != name.strip() or name[:1] in b" \t":
                raise _ProtocolError("malformed header line")
            value = value.strip(b" \t")
            headers.append((name, value))
            if name.lower() == b"connection":
                connection_tokens += b"," + value.lower()
    keep_alive = (
        b"close" not in connection_tokens
        if version == b"HTTP/1.1"
        else b"keep-alive" in connection_tokens
    )
    return int(code), reason, headers, keep_alive


class _BodyStream(httpx.AsyncByteStream):
    """Reads the body lazily; a fully read body frees the connection for the next request."""

    def __init__(
        self,
        transport: StreamTransport,
        connection: _Connection,
        origin: tuple[bytes, bytes, int],
        request: httpx.Request,
        headers: list[tuple[bytes, bytes]],
        status: int,
        keep_alive: bool,
        read_timeout: float | None,
    ) -> None:
        self._transport = transport
        self._connection: _Connection | None = connection
        self._origin = origin
        self._request = request
        self._read_timeout = read_timeout
        self._complete = False
        connection.reusable = keep_alive
        self._length: int | None = None
        self._chunked = False
        if request.method == "HEAD" or status in _NO_BODY_STATUS or 100 <= status < 200:
            self._length = 0
            self._complete = True
            return
        lengths: set[bytes] = set()
        for name, value in headers:
            lower = name.lower()
            if lower == b"transfer-encoding":
                self._chunked = value.lower().rsplit(b",", 1)[-1].strip() == b"chunked"
                if not self._chunked:
                    raise _ProtocolError("unsupported transfer encoding")
            elif lower == b"content-length":
                lengths.update(part.strip() for part in value.split(b","))
        if self._chunked:
            return
        if lengths:
            if len(lengths) != 1 or not next(iter(lengths)).isdigit():
                raise _ProtocolError("invalid Content-Length")
            self._length = int(next(iter(lengths)))
        else:
            connection.reusable = False  # the body ends when the server closes

    async def __aiter__(self) -> AsyncIterator[bytes]:
        connection = self._connection
        if connection is None:
            raise httpx.StreamClosed()
        try:
            if self._chunked:
                async for piece in self._chunks(connection.reader):
                    yield piece
            else:
                remaining = self._length
                while remaining is None or remaining > 0:
                    size = _READ_SIZE if remaining is None else min(remaining, _READ_SIZE)
                    data = await self._read(connection.reader.read(size))
                    if not data:
                        if remaining is None:
                            break
                        raise httpx.RemoteProtocolError(
                            "the server closed the connection before the end of the body",
                            request=self._request,
                        )
                    if remaining is not None:
                        remaining -= len(data)
                    yield data
            self._complete = True
        except TimeoutError:
            raise httpx.ReadTimeout("timed out reading the body", request=self._request) from None
        except (ConnectionError, OSError) as err:
            raise httpx.ReadError(f"connection lost ({type(err).__name__})", request=self._request) from None
        except _ProtocolError as err:
            raise httpx.RemoteProtocolError(str(err), request=self._request) from None

    async def _chunks(self, reader: asyncio.StreamReader) -> AsyncIterator[bytes]:
        while True:
            try:
                size_line = await self._read(reader.readuntil(b"\r\n"))
                size_text = size_line.split(b";", 1)[0].strip()
                try:
                    size = int(size_text, 16)
                except ValueError:
                    raise _ProtocolError("malformed chunk size") from None
                if size < 0:
                    raise _ProtocolError("malformed chunk size")
                if size == 0:
                    while await self._read(reader.readuntil(b"\r\n")) != b"\r\n":
                        pass  # trailers, ignored
                    return
                while size > 0:
                    data = await self._read(reader.read(min(size, _READ_SIZE)))
                    if not data:
                        raise _ProtocolError("the connection closed in the middle of a chunk")
                    size -= len(data)
                    yield data
                if await self._read(reader.readexactly(2)) != b"\r\n":
                    raise _ProtocolError("malformed chunk end")
            except asyncio.IncompleteReadError:
                raise _ProtocolError("the connection closed in the middle of a chunk") from None
            except asyncio.LimitOverrunError:
                raise _ProtocolError("chunk size line too long") from None

    async def _read(self, operation: object) -> bytes:
        async with asyncio.timeout(self._read_timeout):
            return await operation  # type: ignore[misc, no-any-return]

    async def aclose(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        if not self._complete:
            connection.reusable = False
        self._transport._release(connection, self._origin)
