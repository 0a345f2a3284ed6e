"""HTTP/1.1 to one server: a small keep-alive connection pool on asyncio protocols.

Not httpx: at 200 instances an audit costs the client's CPU per request more than it costs
the network (benchmarks/bench_audit.py). httpx's request and response objects, with a lean
stream transport under them, spent about 0.4 ms per request; this module spends a fraction
of that by doing only what the CapRover client needs: requests whose bodies are sent whole,
answers framed by Content-Length, chunked encoding or the end of the connection, keep-alive
to one origin, TLS through a shared ``ssl.SSLContext``. It never follows redirects and never
keeps cookies. Every answer is read whole, up to a size cap, with a read timeout that fires
when no byte arrived for that long; the total deadline is the caller's (caprover.py).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum, auto
from typing import cast
from urllib.parse import urlsplit

_MAX_HEAD = 64 * 1024  # a status line and headers larger than this are refused
_NO_BODY_STATUS = frozenset({204, 304})
_FORBIDDEN_IN_HEADERS = ("\r", "\n", "\0")


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    headers: dict[str, str]  # lower-case names; a repeated header's values joined by ", "
    body: bytes


class HttpError(Exception):
    """The exchange failed below HTTP's meaning; ``str()`` names no secret."""


class ConnectFailed(HttpError):
    """No connection (refused, no route, TLS refused); the OS or ssl error is ``__cause__``."""


class ConnectTimedOut(HttpError):
    pass


class ReadTimedOut(HttpError):
    """No byte of the answer arrived for ``read_timeout`` seconds."""


class ConnectionBroke(HttpError):
    """The connection closed or was reset before the answer was complete."""


class ProtocolViolation(HttpError):
    """Bytes that are not an HTTP/1.x answer."""


class TooLarge(HttpError):
    """The body is over the size cap; reading stopped there."""


class _Stale(Exception):
    """The connection ended before the first byte of an answer."""


class _Part(Enum):
    """Where the parser is in an answer."""

    HEAD = auto()
    LENGTH = auto()  # a body of Content-Length bytes
    UNTIL_CLOSE = auto()  # a body that ends when the server closes the connection
    CHUNK_SIZE = auto()
    CHUNK_DATA = auto()
    CHUNK_END = auto()
    TRAILERS = auto()
    DONE = auto()


class _ResponseParser:
    """Incremental parser of one answer; ``feed`` returns True once it is complete."""

    __slots__ = (
        "_buffer", "_chunk_left", "_max_body", "_no_body", "_parts", "_size",
        "_state", "headers", "keep_alive", "leftover", "started", "status",
    )

    def __init__(self, *, no_body: bool, max_body: int) -> None:
        self._buffer = bytearray()
        self._no_body = no_body
        self._max_body = max_body
        self._parts: list[bytes] = []
        self._size = 0
        self._chunk_left = 0
        self._state = _Part.HEAD
        self.started = False  # a byte of the answer arrived (an interim 100 counts)
        self.status = 0
        self.headers: dict[str, str] = {}
        self.keep_alive = False
        self.leftover = False

    def body(self) -> bytes:
        return b"".join(self._parts)

    def feed(self, data: bytes) -> bool:
        if data:
            self.started = True
        self._buffer += data
        while True:
            state = self._state
            if state is _Part.HEAD:
                if not self._parse_head():
                    return False
            elif state is _Part.LENGTH:
                if not self._take(self._chunk_left, _Part.LENGTH):
                    return False
            elif state is _Part.UNTIL_CLOSE:
                self._take(len(self._buffer), _Part.UNTIL_CLOSE)
                return False
            elif state is _Part.CHUNK_SIZE:
                if not self._parse_chunk_size():
                    return False
            elif state is _Part.CHUNK_DATA:
                if not self._take(self._chunk_left, _Part.CHUNK_DATA):
                    return False
            elif state is _Part.CHUNK_END:
                if len(self._buffer) < 2:
                    return False
                if self._buffer[:2] != b"\r\n":
                    raise ProtocolViolation("malformed chunk end")
                del self._buffer[:2]
                self._state = _Part.CHUNK_SIZE
            elif state is _Part.TRAILERS:
                end = self._buffer.find(b"\r\n")
                if end < 0:
                    if len(self._buffer) > _MAX_HEAD:
                        raise ProtocolViolation("trailers too large")
                    return False
                line = bytes(self._buffer[:end])
                del self._buffer[: end + 2]
                if not line:
                    self._state = _Part.DONE
            else:  # done
                self.leftover = bool(self._buffer)
                return True

    def eof(self) -> bool:
        """The server closed the connection: True when that ends the answer."""
        if self._state is _Part.UNTIL_CLOSE:
            self._state = _Part.DONE
            return True
        if self._state is _Part.DONE:
            return True
        if not self.started:
            raise _Stale
        if self._state is _Part.HEAD:
            raise ConnectionBroke("the connection closed in the middle of the headers")
        raise ConnectionBroke("the server closed the connection before the end of the body")

    def _take(self, wanted: int, state: _Part) -> bool:
        """Move up to ``wanted`` body bytes out of the buffer; True when all of them came."""
        piece = bytes(self._buffer[:wanted])
        del self._buffer[: len(piece)]
        if piece:
            self._size += len(piece)
            if self._size > self._max_body:
                raise TooLarge(f"answer larger than {self._max_body} bytes; stopped reading")
            self._parts.append(piece)
        if state is _Part.UNTIL_CLOSE:
            return False
        self._chunk_left = wanted - len(piece)
        if self._chunk_left:
            return False
        self._state = _Part.CHUNK_END if state is _Part.CHUNK_DATA else _Part.DONE
        return True

    def _parse_chunk_size(self) -> bool:
        end = self._buffer.find(b"\r\n")
        if end < 0:
            if len(self._buffer) > 1024:
                raise ProtocolViolation("chunk size line too long")
            return False
        text = bytes(self._buffer[:end]).split(b";", 1)[0].strip()
        del self._buffer[: end + 2]
        if not text or any(c not in b"0123456789abcdefABCDEF" for c in text):
            raise ProtocolViolation("malformed chunk size")
        size = int(text, 16)
        if size == 0:
            self._state = _Part.TRAILERS
        else:
            self._chunk_left = size
            self._state = _Part.CHUNK_DATA
        return True

    def _parse_head(self) -> bool:
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buffer) > _MAX_HEAD:
                raise ProtocolViolation("response headers too large")
            return False
        if end > _MAX_HEAD:
            raise ProtocolViolation("response headers too large")
        head = bytes(self._buffer[:end])
        del self._buffer[: end + 4]
        status_line, _, rest = head.partition(b"\r\n")
        version, _, after = status_line.partition(b" ")
        code = after[:3]
        if version not in (b"HTTP/1.1", b"HTTP/1.0") or len(code) != 3 or not code.isdigit():
            raise ProtocolViolation("not an HTTP/1.x answer")
        status = int(code)
        if 100 <= status < 200 and status != 101:
            return True  # an interim answer: the real one follows
        headers: dict[str, str] = {}
        connection = ""
        if rest:
            for line in rest.split(b"\r\n"):
                name, colon, value = line.partition(b":")
                if not colon or not name or name != name.strip() or name[:1] in b" \t":
                    raise ProtocolViolation("malformed header line")
                key = name.decode("latin-1").lower()
                text = value.strip(b" \t").decode("latin-1")
                headers[key] = f"{headers[key]}, {text}" if key in headers else text
            connection = headers.get("connection", "").lower()
        self.status = status
        self.headers = headers
        self.keep_alive = (
            "close" not in connection if version == b"HTTP/1.1" else "keep-alive" in connection
        )
        self._state = self._framing(status, headers)
        return True

    def _framing(self, status: int, headers: dict[str, str]) -> _Part:
        if status == 101:
            self.keep_alive = False  # the connection now speaks something else: never reuse it
        if self._no_body or status in _NO_BODY_STATUS or status < 200:
            return _Part.DONE
        coding = headers.get("transfer-encoding")
        if coding is not None:
            if coding.lower().rsplit(",", 1)[-1].strip() != "chunked":
                raise ProtocolViolation("unsupported transfer encoding")
            return _Part.CHUNK_SIZE
        declared = headers.get("content-length")
        if declared is None:
            self.keep_alive = False  # the body ends when the server closes
            return _Part.UNTIL_CLOSE
        lengths = {part.strip() for part in declared.split(",")}
        length_text = lengths.pop()
        if lengths or not length_text.isdigit():
            raise ProtocolViolation("invalid Content-Length")
        length = int(length_text)
        if length > self._max_body:
            raise TooLarge(f"answer too large ({length} bytes)")
        self._chunk_left = length
        return _Part.LENGTH if length else _Part.DONE


class _Connection(asyncio.Protocol):
    """One TCP (or TLS) connection; one exchange at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._parser: _ResponseParser | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._read_timeout = 0.0
        self._last_data = 0.0

    # -- protocol callbacks ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A cast, not an isinstance check: other event loops (uvloop) have their own classes.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        parser = self._parser
        if parser is None:
            self.close()  # bytes nobody asked for: the connection cannot be trusted any more
            return
        self._last_data = self._loop.time()
        try:
            complete = parser.feed(data)
        except HttpError as failure:
            self._settle(failure)
            return
        if complete:
            self._settle(None)

    def eof_received(self) -> bool:
        self._ended()
        return False  # let the transport close

    def connection_lost(self, exc: Exception | None) -> None:
        self._ended()

    def _ended(self) -> None:
        self.closed = True
        parser = self._parser
        if parser is None:
            return
        try:
            parser.eof()
        except (HttpError, _Stale) as failure:
            self._settle(failure)
            return
        self._settle(None)

    # -- one exchange ----------------------------------------------------------------------

    async def exchange(
        self, payload: bytes, *, no_body: bool, read_timeout: float, max_body: int
    ) -> tuple[_ResponseParser, bool]:
        """Send ``payload`` and read the whole answer: (parser, connection reusable)."""
        if self.closed or self.transport is None or self.transport.is_closing():
            raise _Stale
        parser = self._parser = _ResponseParser(no_body=no_body, max_body=max_body)
        waiter = self._waiter = self._loop.create_future()
        self._read_timeout = read_timeout
        self._last_data = self._loop.time()
        self._timer = self._loop.call_at(self._last_data + read_timeout, self._check_timeout)
        try:
            self.transport.write(payload)
            await waiter
        except BaseException:
            self.close()  # cancelled or failed half-way: the stream is out of step
            raise
        finally:
            self._parser = self._waiter = None
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        reusable = parser.keep_alive and not parser.leftover and not self.closed
        return parser, reusable

    def _check_timeout(self) -> None:
        due = self._last_data + self._read_timeout
        if self._loop.time() >= due:
            self._timer = None
            self._settle(ReadTimedOut("timed out waiting for the server"))
        else:
            self._timer = self._loop.call_at(due, self._check_timeout)

    def _settle(self, failure: BaseException | None) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        if failure is None:
            waiter.set_result(None)
        else:
            waiter.set_exception(failure)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class HttpPool:
    """Up to ``max_connections`` keep-alive connections to the origin of ``url``."""

    def __init__(
        self,
        url: str,
        *,
        ssl_context: ssl.SSLContext | None,
        max_connections: int = 4,
        connect_timeout: float | None = 10.0,
        read_timeout: float = 30.0,
        max_body_bytes: int = 16 * 1024 * 1024,
    ) -> None:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        self._host = parts.hostname or ""
        try:
            self._port = parts.port or (443 if scheme == "https" else 80)
        except ValueError:
            self._port = 0
        # A URL no request can go to fails each request, like an unreachable server does.
        self._unusable = scheme not in ("http", "https") or not self._host or not self._port
        self._host_header = parts.netloc.rpartition("@")[2]
        self._ssl: ssl.SSLContext | None = None
        if scheme == "https":
            self._ssl = ssl_context or ssl.create_default_context()
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._max_body = max_body_bytes
        self._max_connections = max_connections
        self._slots: asyncio.Semaphore | None = None  # made on first use, inside the loop
        self._idle: list[_Connection] = []
        self._open: set[_Connection] = set()
        self._connecting = 0
        self._closed = False

    @property
    def origin(self) -> str:
        return f"{self._host}:{self._port}"

    async def request(
        self,
        method: str,
        target: str,
        headers: Sequence[tuple[str, str]] = (),
        body: bytes = b"",
    ) -> HttpResponse:
        """Send one request and read the whole answer. Raises an HttpError subclass."""
        if self._closed:
            raise RuntimeError("the connection pool is closed")
        payload = self._encode(method, target, headers, body)
        if self._slots is None:
            self._slots = asyncio.Semaphore(self._max_connections)
        async with self._slots:
            # A reused connection the server had just closed fails before any answer: the
            # request never reached the server, so it goes out once more on a fresh one.
            while True:
                connection = self._take_idle()
                reused = connection is not None
                if connection is None:
                    connection = await self._connect()
                try:
                    parser, reusable = await connection.exchange(
                        payload,
                        no_body=method == "HEAD",
                        read_timeout=self._read_timeout,
                        max_body=self._max_body,
                    )
                except _Stale:
                    self._drop(connection)
                    if reused:
                        continue
                    raise ConnectionBroke("server disconnected without sending a response") from None
                except BaseException:
                    self._drop(connection)
                    raise
                if reusable and not self._closed:
                    self._idle.append(connection)
                else:
                    self._drop(connection)
                return HttpResponse(parser.status, parser.headers, parser.body())

    async def preconnect(self, connections: int) -> None:
        """Open idle connections until ``connections`` are open or opening.

        For requests known to come: the connections (and their TLS handshakes) are made while
        the caller waits on another answer instead of after it. Failures are dropped; the
        request that needs the connection meets them again and reports them.
        """
        wanted = min(connections, self._max_connections)
        while not self._closed and len(self._open) + self._connecting < wanted:
            try:
                connection = await self._connect()
            except HttpError:
                return
            if self._closed:
                self._drop(connection)
                return
            self._idle.append(connection)

    async def aclose(self) -> None:
        self._closed = True
        connections, self._open = self._open, set()
        self._idle.clear()
        for connection in connections:
            connection.close()

    def _take_idle(self) -> _Connection | None:
        while self._idle:
            connection = self._idle.pop()
            if not connection.closed:
                return connection
            self._drop(connection)
        return None

    def _drop(self, connection: _Connection) -> None:
        connection.close()
        self._open.discard(connection)

    async def _connect(self) -> _Connection:
        if self._unusable:
            raise ConnectFailed("not an http(s) URL with a host")
        loop = asyncio.get_running_loop()
        self._connecting += 1
        try:
            async with asyncio.timeout(self._connect_timeout):
                _, connection = await loop.create_connection(
                    lambda: _Connection(loop),
                    self._host,
                    self._port,
                    ssl=self._ssl,
                    server_hostname=self._host if self._ssl is not None else None,
                )
        except TimeoutError:
            raise ConnectTimedOut(f"no connection to {self.origin} in time") from None
        except (OSError, ssl.SSLError) as err:
            # The error stays the cause: the client tells "not trusted" from "refused".
            raise ConnectFailed(f"cannot connect to {self.origin}: {err}") from err
        finally:
            self._connecting -= 1
        if self._closed:
            connection.close()
            raise ConnectFailed("the connection pool is closed")
        self._open.add(connection)
        return connection

    def _encode(
        self, method: str, target: str, headers: Sequence[tuple[str, str]], body: bytes
    ) -> bytes:
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self._host_header}"]
        lines.extend(f"{name}: {value}" for name, value in headers)
        if body or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body)}")
        if " " in target or any(bad in line for line in lines for bad in _FORBIDDEN_IN_HEADERS):
            # A value from a server (a token, say) must never smuggle in a header or request.
            raise ProtocolViolation("refusing to send a header with a line break or NUL in it")
        try:
            return "\r\n".join(lines).encode("latin-1") + b"\r\n\r\n" + body
        except UnicodeEncodeError:
            raise ProtocolViolation("refusing to send a header that is not Latin-1") from None
