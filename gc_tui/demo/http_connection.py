"""One client connection of the fake HTTP server, as an ``asyncio.Protocol``.

Bytes are parsed as they arrive (``data_received``); a task exists only while a request is
being answered, so hundreds of idle keep-alive connections cost no tasks, readers or writers.
Requests on a connection are answered strictly one after the other: while one is in flight
the next bytes are only buffered (and reading pauses if they pile up).
"""

from __future__ import annotations

import asyncio
from typing import cast

from gc_tui.demo.http_wire import (
    MAX_HEAD,
    BadRequest,
    Handler,
    Request,
    RequestHead,
    Response,
    encode_head,
    parse_head,
    plain_response,
)

_SEPARATOR = b"\r\n\r\n"
# Like asyncio.StreamReader with a 64 KiB limit: stop reading once two limits' worth wait.
_PAUSE_READING_AT = 2 * MAX_HEAD


class Connection(asyncio.Protocol):
    """Reads requests, runs the handler on each in turn, writes the responses."""

    __slots__ = (
        "_buffer",
        "_closed",
        "_drain_waiter",
        "_eof",
        "_goodbye",
        "_handler",
        "_head",
        "_lost",
        "_over_ssl",
        "_reading_paused",
        "_registry",
        "_scanned",
        "_task",
        "_transport",
        "_writing_paused",
    )

    def __init__(self, handler: Handler, *, over_ssl: bool, registry: set[Connection]) -> None:
        self._handler = handler
        self._over_ssl = over_ssl
        # The server's open connections: joined once connected (after the TLS handshake, as
        # a failed handshake never reports connection_lost), left when the socket is gone.
        self._registry = registry
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._scanned = 0  # the separator is not in buffer[:_scanned]
        self._head: RequestHead | None = None  # parsed, waiting for its body
        self._task: asyncio.Task[None] | None = None  # set while a request is answered
        self._eof = False
        self._closed = False  # we closed (or are closing) the transport
        self._lost = False  # connection_lost was called
        self._reading_paused = False
        self._writing_paused = False
        self._drain_waiter: asyncio.Future[None] | None = None
        self._goodbye: asyncio.Future[None] | None = None  # resolved by connection_lost

    # -- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A cast, not an isinstance check: other event loops (uvloop) have their own classes.
        self._transport = cast(asyncio.Transport, transport)
        self._registry.add(self)

    def data_received(self, data: bytes) -> None:
        if self._closed:
            return
        self._buffer += data
        if self._task is None:
            self._start_next()
        elif len(self._buffer) > _PAUSE_READING_AT and not self._reading_paused:
            assert self._transport is not None
            self._reading_paused = True
            self._transport.pause_reading()

    def eof_received(self) -> bool:
        self._eof = True
        if self._task is None:
            # Nothing in flight, and what is buffered can never become a whole request.
            self.close()
        # Keep the write side open so an answer in flight still goes out; over TLS asyncio
        # closes anyway (and warns if asked otherwise), as asyncio streams did.
        return not self._over_ssl

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self._closed = True
        self._wake_writer(ConnectionResetError("Connection lost"))
        # An answer in flight is left to finish: the request's effects happen (a deploy, the
        # 429 lock until the handler returns) whether or not anyone is left to read the answer.
        self._registry.discard(self)
        if self._goodbye is not None and not self._goodbye.done():
            self._goodbye.set_result(None)

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        self._wake_writer(None)

    # -- control from the server -----------------------------------------------------------

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            assert self._transport is not None
            self._transport.close()

    def drop(self) -> tuple[asyncio.Task[None] | None, asyncio.Future[None] | None]:
        """Cancel the answer in flight and close.

        Returns that task, to await, and a future resolved once the socket is gone (None if
        it already is).
        """
        task = self._task
        if task is not None:
            task.cancel()
        if not self._lost and self._goodbye is None:
            self._goodbye = asyncio.get_running_loop().create_future()
        self.close()
        return task, self._goodbye if not self._lost else None

    # -- reading requests ------------------------------------------------------------------

    def _start_next(self) -> None:
        """Answer the next buffered request, if it is complete; called only when idle."""
        request = self._take_request()
        if request is not None:
            self._task = asyncio.get_running_loop().create_task(self._serve(*request))
        else:
            self._wait_for_more()

    def _wait_for_more(self) -> None:
        if self._eof:
            self.close()  # the rest of a request can no longer come
        elif self._reading_paused and not self._closed:
            assert self._transport is not None
            self._reading_paused = False
            self._transport.resume_reading()

    def _take_request(self) -> tuple[Request, bool] | None:
        """The next complete request and its keep-alive wish; None when incomplete or refused."""
        if self._closed:
            return None
        buffer = self._buffer
        head = self._head
        if head is None:
            end = buffer.find(_SEPARATOR, self._scanned)
            if end < 0:
                # Same bounds as StreamReader.readuntil with a 64 KiB limit.
                if len(buffer) - 3 > MAX_HEAD:
                    self._refuse(431, "Request Header Fields Too Large")
                else:
                    self._scanned = max(0, len(buffer) - 3)
                return None
            if end > MAX_HEAD:
                self._refuse(431, "Request Header Fields Too Large")
                return None
            try:
                head = parse_head(buffer[: end + 4])
            except BadRequest:
                self._refuse(400, "Bad Request")
                return None
            del buffer[: end + 4]
            self._scanned = 0
            self._head = head
        length = head.body_length
        if len(buffer) < length:
            return None
        body = bytes(buffer[:length])
        del buffer[:length]
        self._head = None
        try:
            request = head.request(body)
        except ValueError:
            # A target urlsplit rejects ("Invalid IPv6 URL"): hang up without an answer, as
            # this server always has for it.
            self.close()
            return None
        return request, head.keep_alive

    def _refuse(self, status: int, text: str) -> None:
        response = plain_response(status, text)
        assert self._transport is not None
        self._transport.write(encode_head(response, len(response.body), False) + response.body)
        self.close()

    # -- answering -------------------------------------------------------------------------

    async def _serve(self, request: Request, keep_alive: bool) -> None:
        try:
            while True:
                if not await self._answer(request, keep_alive):
                    self.close()
                    return
                following = self._take_request()
                if following is None:
                    break
                request, keep_alive = following
        except OSError:  # ConnectionError and ssl.SSLError included: the peer is gone
            self.close()
            return
        except asyncio.CancelledError:
            # Only stop_listening cancels us (it closes the connection itself); ending quietly
            # keeps the cancellation out of the logs.
            self.close()
            return
        except BaseException:
            self.close()
            raise
        finally:
            self._task = None
        self._wait_for_more()

    async def _answer(self, request: Request, keep_alive: bool) -> bool:
        """Handle and write one response; returns whether the connection stays open."""
        try:
            response = await self._handler(request)
        except Exception:  # noqa: BLE001 - a bug in the fake must look like a server error, not a hang
            response = plain_response(500, "Internal Server Error")
        keep_alive = keep_alive and not response.close_after
        try:
            await self._write(response, keep_alive)
        finally:
            for callback in response.on_finished:
                callback()
        return keep_alive

    async def _write(self, response: Response, keep_alive: bool) -> None:
        if response.chunks is not None:
            assert response.content_length is not None
            self._send(encode_head(response, response.content_length, keep_alive))
            async for chunk in response.chunks:
                self._send(chunk)
                await self._drain()
            return
        body = response.body
        length = len(body) if response.content_length is None else response.content_length
        head = encode_head(response, length, keep_alive)
        if response.drip_interval > 0:
            self._send(head)
            await self._drain()
            for index in range(len(body)):
                await asyncio.sleep(response.drip_interval)
                self._send(body[index : index + 1])
                await self._drain()
            return
        self._send(head + body)
        await self._drain()

    def _send(self, data: bytes) -> None:
        if self._closed:
            raise ConnectionResetError("Connection lost")
        assert self._transport is not None
        self._transport.write(data)

    async def _drain(self) -> None:
        """Wait while the transport's write buffer is above its high-water mark."""
        if self._closed:
            raise ConnectionResetError("Connection lost")
        if not self._writing_paused:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._drain_waiter = waiter
        try:
            await waiter
        finally:
            self._drain_waiter = None

    def _wake_writer(self, error: Exception | None) -> None:
        waiter = self._drain_waiter
        if waiter is None or waiter.done():
            return
        if error is None:
            waiter.set_result(None)
        else:
            waiter.set_exception(error)
