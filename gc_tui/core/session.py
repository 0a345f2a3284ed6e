"""The HTTP set-up for one action over the fleet, done once and shared.

One small connection pool per instance (``transport.HttpPool``), all sharing one SSL context:
building a context costs ~25 ms, and one pool for 200 origins would only add bookkeeping.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Coroutine, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Self

from gc_tui.core.caprover import CapRoverClient, ClientSettings, make_ssl_contexts
from gc_tui.core.model import Instance
from gc_tui.core.transport import HttpPool


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
        settings: ClientSettings | None = None,
        *,
        ca_files: dict[str, Path] | None = None,
    ) -> None:
        self.settings = settings or ClientSettings()
        self.instances = {instance.name: instance for instance in instances}
        self._ca_files = ca_files or {}
        self._ssl: tuple[ssl.SSLContext, ssl.SSLContext] | None = None
        self._custom_ssl: dict[Path, ssl.SSLContext] = {}
        self._clients: dict[str, CapRoverClient] = {}
        self._write_locks: dict[str, asyncio.Lock] = {}
        self.busy_with: dict[str, str] = {}  # instance -> what holds its write lock

    def client(self, name: str) -> CapRoverClient:
        existing = self._clients.get(name)
        if existing is not None:
            return existing
        instance = self.instances[name]
        # Proxies and CA paths from the environment are not honoured: the vault says where
        # each server is, the config says how to trust it. Redirects are never followed.
        pool = HttpPool(
            instance.url,
            ssl_context=self._ssl_for(instance),
            max_connections=4,
            connect_timeout=self.settings.connect_timeout,
            read_timeout=self.settings.read_timeout,
            max_body_bytes=self.settings.max_response_bytes,
        )
        client = CapRoverClient(instance, pool, self.settings)
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

    def _ssl_for(self, instance: Instance) -> ssl.SSLContext | None:
        if not instance.url.lower().startswith("https:"):
            return None  # building the contexts costs ~50 ms; plain HTTP never needs them
        if self._ssl is None:
            self._ssl = make_ssl_contexts()
        verified, insecure = self._ssl
        if instance.insecure:
            return insecure
        ca_file = self._ca_files.get(instance.name)
        if ca_file is None:
            return verified
        if ca_file not in self._custom_ssl:
            self._custom_ssl[ca_file] = ssl.create_default_context(cafile=str(ca_file))
        return self._custom_ssl[ca_file]
