"""Many fake CapRover servers in one event loop, each on its own loopback port."""

from __future__ import annotations

import asyncio
import inspect
import ssl
import threading
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, NamedTuple, Self

from gc_tui.demo.captain import CaptainServer
from gc_tui.demo.change_signal import WAIT_LIMIT_SECONDS, wait_until
from gc_tui.demo.instance import FakeInstance, deploy_in


class ReceivedDeploy(NamedTuple):
    """One deploy POST as a fake server recorded it."""

    instance: str
    app: str
    image: str  # "" when the body named none readably


class FakeFleet:
    """Serves ``instances``; ``url(name)`` is ``http(s)://127.0.0.1:<port>``.

    With ``ssl_context`` every instance speaks TLS; ``url_host`` lets a certificate issued for
    ``localhost`` match (the servers still bind ``host``).
    """

    def __init__(
        self,
        instances: list[FakeInstance],
        *,
        ssl_context: ssl.SSLContext | None = None,
        host: str = "127.0.0.1",
        url_host: str | None = None,
        ports: Mapping[str, int] | None = None,
    ) -> None:
        """``ports``: the port each named instance should listen on (0 or absent: any)."""
        names = [instance.name for instance in instances]
        if len(set(names)) != len(names):
            raise ValueError("fake instance names must be unique")
        self.instances = list(instances)
        self._servers = {
            instance.name: CaptainServer(instance, host=host, ssl_context=ssl_context)
            for instance in instances
        }
        for name, port in (ports or {}).items():
            self._servers[name].http.port = port
        self._scheme = "https" if ssl_context is not None else "http"
        self._url_host = url_host or host

    async def start(self) -> None:
        # Sequential on purpose: binding is fast and keeps errors attributable.
        for server in self._servers.values():
            await server.start()

    async def stop(self) -> None:
        await asyncio.gather(*(server.stop() for server in self._servers.values()))

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def url(self, name: str) -> str:
        return f"{self._scheme}://{self._url_host}:{self.server(name).port}"

    def urls(self) -> dict[str, str]:
        return {name: self.url(name) for name in self._servers}

    def instance(self, name: str) -> FakeInstance:
        return self.server(name).instance

    def server(self, name: str) -> CaptainServer:
        try:
            return self._servers[name]
        except KeyError:
            raise KeyError(f"no fake instance named {name!r}") from None

    async def take_down(self, name: str) -> None:
        """From now on connections to ``name`` are refused (same port, for ``bring_up``)."""
        await self.server(name).take_down()

    async def bring_up(self, name: str) -> None:
        await self.server(name).bring_up()

    # -- for tests: holding builds, waiting for the record -----------------------------------

    def hold_builds(self, *names: str) -> None:
        """``FakeInstance.hold_builds`` on ``names``, or on every instance when none is named."""
        for instance in self._chosen(names):
            instance.hold_builds()

    def release_builds(self, *names: str, fail: bool = False) -> None:
        """``FakeInstance.release_builds`` on ``names``, or on every instance."""
        for instance in self._chosen(names):
            instance.release_builds(fail=fail)

    async def wait_until(
        self, condition: Callable[[], object], *, timeout: float | None = WAIT_LIMIT_SECONDS
    ) -> None:
        """Return once ``condition()`` holds, re-checked whenever any instance changes.

        What counts as a change is listed at ``FakeInstance.changes``.
        """
        await wait_until(condition, [i.changes for i in self.instances], timeout=timeout)

    def deploy_requests(self) -> list[ReceivedDeploy]:
        """Every deploy POST any instance received, in arrival order across the fleet."""
        received = [
            (request.at, ReceivedDeploy(instance.name, *deploy))
            for instance in self.instances
            for request in instance.requests
            if (deploy := deploy_in(request)) is not None
        ]
        received.sort(key=lambda pair: pair[0])
        return [deploy for _, deploy in received]

    def _chosen(self, names: tuple[str, ...]) -> list[FakeInstance]:
        return [self.instance(name) for name in names] if names else self.instances


class FakeFleetThread:
    """A FakeFleet running on its own event loop in a daemon thread.

    For sync tests and for code that owns its loop (Textual): talk to the URLs with any client,
    and touch instances through ``call`` so it happens on the fleet's loop.
    """

    def __init__(self, instances: list[FakeInstance], **fleet_options: Any) -> None:
        self._instances = instances
        self._options = fleet_options
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._fleet: FakeFleet | None = None

    @property
    def fleet(self) -> FakeFleet:
        if self._fleet is None:
            raise RuntimeError("the fake fleet is not running")
        return self._fleet

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise RuntimeError("the fake fleet is not running")
        return self._loop

    def start(self) -> FakeFleetThread:
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="fake-caprover", daemon=True)
        self._thread.start()

        async def build() -> FakeFleet:
            fleet = FakeFleet(self._instances, **self._options)
            await fleet.start()
            return fleet

        try:
            self._fleet = asyncio.run_coroutine_threadsafe(build(), loop).result()
        except BaseException:
            self._shutdown_loop()
            raise
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        if self._fleet is not None:
            asyncio.run_coroutine_threadsafe(self._fleet.stop(), self._loop).result()
            self._fleet = None
        self._shutdown_loop()

    def _shutdown_loop(self) -> None:
        loop, thread = self._loop, self._thread
        self._loop = self._thread = None
        if loop is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join()
        loop.close()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` on the fleet's loop (awaiting it if it is async); return its result."""

        async def run() -> Any:
            result = fn(*args)
            if inspect.isawaitable(result):
                result = await result
            return result

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result()

    def url(self, name: str) -> str:
        return self.fleet.url(name)

    def urls(self) -> dict[str, str]:
        return self.fleet.urls()

    def instance(self, name: str) -> FakeInstance:
        return self.fleet.instance(name)

    def take_down(self, name: str) -> None:
        self.call(self.fleet.take_down, name)

    def bring_up(self, name: str) -> None:
        self.call(self.fleet.bring_up, name)

    # -- for tests: holding builds, waiting for the record -----------------------------------

    def hold_builds(self, *names: str) -> None:
        """``FakeFleet.hold_builds``, from any thread (the gate needs no loop)."""
        self.fleet.hold_builds(*names)

    def release_builds(self, *names: str, fail: bool = False) -> None:
        """``FakeFleet.release_builds``, from any thread."""
        self.fleet.release_builds(*names, fail=fail)

    def wait_until(
        self, condition: Callable[[], object], *, timeout: float | None = WAIT_LIMIT_SECONDS
    ) -> None:
        """Block the calling thread until ``condition()`` holds (``FakeFleet.wait_until``).

        ``condition`` runs on the fleet's loop, so it may read the instances freely. Not for a
        coroutine: it would block its loop (use ``wait_until_async``).
        """
        asyncio.run_coroutine_threadsafe(
            self.fleet.wait_until(condition, timeout=timeout), self.loop
        ).result()

    async def wait_until_async(
        self, condition: Callable[[], object], *, timeout: float | None = WAIT_LIMIT_SECONDS
    ) -> None:
        """``wait_until`` for a coroutine on another loop (a Textual app's, a test's)."""
        await asyncio.wrap_future(
            asyncio.run_coroutine_threadsafe(
                self.fleet.wait_until(condition, timeout=timeout), self.loop
            )
        )

    def deploy_requests(self) -> list[ReceivedDeploy]:
        """``FakeFleet.deploy_requests``, read on the fleet's loop."""
        deploys: list[ReceivedDeploy] = self.call(self.fleet.deploy_requests)
        return deploys
