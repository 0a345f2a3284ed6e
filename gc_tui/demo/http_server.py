"""A deliberately tiny HTTP/1.1 server on ``asyncio.Protocol`` (``loop.create_server``).

Only what the fake CapRover needs: keep-alive, Content-Length request bodies, and a few ways of
misbehaving on purpose (streamed, dripped or truncated bodies). No framework and no asyncio
streams: benchmarks run hundreds of fake servers in one process and measure the client's CPU,
so the fake must stay cheap. A connection is one protocol object until a request arrives; only
then does a task run the (async) handler. The wire format is in ``http_wire``, one connection's
life in ``http_connection``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl

from gc_tui.demo.http_connection import Connection
from gc_tui.demo.http_wire import Handler, Request, Response

__all__ = ["Handler", "HttpServer", "Request", "Response"]

# A dropped connection gets this long to say goodbye (a TLS close_notify, say) before
# stop_listening returns anyway; asyncio finishes closing it in the background.
_CLOSE_GRACE_SECONDS = 1.0


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
        self._connections: set[Connection] = set()

    @property
    def listening(self) -> bool:
        return self._server is not None

    async def start_listening(self) -> None:
        if self._server is not None:
            return
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._new_connection,
            self.host,
            self.port,
            ssl=self._ssl,
            reuse_address=True,
            backlog=1024,
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop_listening(self, *, drop_connections: bool = True) -> None:
        """Close the listener (connections are then refused) and, by default, open sockets."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        if drop_connections:
            await self._drop_connections()
        if server is not None:
            with contextlib.suppress(Exception):
                await server.wait_closed()

    async def _drop_connections(self) -> None:
        dropped = [connection.drop() for connection in list(self._connections)]
        current = asyncio.current_task()
        for task, _ in dropped:
            if task is not None and task is not current:
                with contextlib.suppress(BaseException):
                    await task
        goodbyes = [goodbye for _, goodbye in dropped if goodbye is not None]
        if goodbyes:
            await asyncio.wait(goodbyes, timeout=_CLOSE_GRACE_SECONDS)

    def _new_connection(self) -> Connection:
        return Connection(self._handler, over_ssl=self._ssl is not None, registry=self._connections)
