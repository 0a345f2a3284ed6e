"""The HTTP set-up for one action over the fleet, done once and shared.

One httpx client per instance, all sharing the SSL contexts of one ``TlsContexts``: building a
context costs tens of milliseconds, and one client for 200 origins costs quadratically in
httpcore (docs/network.md).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Coroutine, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Self

from gc_tui.core.caprover import CapRoverClient, CapRoverError, TlsFailure, Unreachable
from gc_tui.core.http import (
    HttpSettings,
    NetworkFailure,
    TlsContexts,
    ca_file_problem,
    make_client,
)
from gc_tui.core.model import Instance


class InstanceBusy(Exception):
    """Another action of this session is changing the instance; ``str()`` says which."""


async def run_to_the_end(coroutines: Iterable[Coroutine[Any, Any, None]]) -> None:
    """Run them all; if this is cancelled, cancel them and wait, so none outlives the call."""
    tasks = [asyncio.create_task(coroutine) for coroutine in coroutines]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class FleetSession:
    """Clients, tokens and per-instance write locks for the instances of one action.

    The write lock serialises everything that changes a server (app deploys, CapRover
    updates): CapRover builds one thing at a time and answers 429 to concurrent writes.
    """

    def __init__(
        self,
        instances: Sequence[Instance],
        settings: HttpSettings | None = None,
        *,
        ca_files: dict[str, Path] | None = None,
    ) -> None:
        """``ca_files`` (by instance name) is used where an instance has no ``ca_file``."""
        self.settings = settings or HttpSettings()
        self.instances = {instance.name: instance for instance in instances}
        self._ca_files = ca_files or {}
        self._tls = TlsContexts()
        self._clients: dict[str, CapRoverClient] = {}
        self._write_locks: dict[str, asyncio.Lock] = {}
        self.busy_with: dict[str, str] = {}  # instance -> what holds its write lock

    def client(self, name: str) -> CapRoverClient:
        existing = self._clients.get(name)
        if existing is not None:
            return existing
        instance = self.instances[name]
        ca_file = instance.ca_file or self._ca_files.get(name)
        failure: CapRoverError | None = None
        try:
            # Plain-HTTP instances get the shared context too: without one, httpx would
            # build its own (certifi's bundle, ~50 ms) for every client.
            tls = self._tls.context(ca_file, verify=not instance.insecure)
        except (OSError, ssl.SSLError) as error:
            # The config checks CA files when it loads; this is a file changed since then.
            reason = (ca_file_problem(ca_file) if ca_file else None) or type(error).__name__
            failure = TlsFailure(name, f"cannot use the CA file {ca_file}: {reason}")
            tls = self._tls.context()
        try:
            http = make_client(instance.url, tls=tls, settings=self.settings,
                               proxy=instance.proxy)
        except NetworkFailure as unusable:  # a proxy httpx cannot use: this instance fails
            failure = failure or Unreachable(name, str(unusable))
            http = make_client(instance.url, tls=tls, settings=self.settings,
                               use_environment=False)
        client = CapRoverClient(instance, http, self.settings, failure=failure)
        self._clients[name] = client
        return client

    def clients(self, names: Iterable[str] | None = None) -> list[CapRoverClient]:
        return [self.client(name) for name in (names if names is not None else self.instances)]

    def write_lock(self, name: str) -> asyncio.Lock:
        return self._write_locks.setdefault(name, asyncio.Lock())

    @asynccontextmanager
    async def exclusive(self, name: str, doing: str) -> AsyncIterator[None]:
        """Hold ``name``'s write lock for ``doing``; InstanceBusy at once if it is taken.

        Refusing rather than waiting is deliberate: a CapRover update must not start when
        deploys have just ended on the instance without the operator seeing the new state.
        """
        lock = self.write_lock(name)
        if lock.locked():
            raise InstanceBusy(self.busy_with.get(name, "another action"))
        async with lock:
            self.busy_with[name] = doing
            try:
                yield
            finally:
                self.busy_with.pop(name, None)

    def forget_credentials(self) -> None:
        for client in self._clients.values():
            client.forget_credentials()

    async def aclose(self) -> None:
        clients, self._clients = self._clients, {}
        await asyncio.gather(
            *(client.aclose() for client in clients.values()), return_exceptions=True
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
