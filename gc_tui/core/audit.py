"""The fleet audit: ask every instance what it runs, concurrently, one result per instance."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable

from gc_tui.core.caprover import CapRoverClient, CapRoverError
from gc_tui.core.model import InstanceAudit, InstanceStatus
from gc_tui.core.session import FleetSession

# Enough for a whole fleet at once: the audit should cost about one round trip however many
# instances there are (benchmarks/bench_audit.py); each instance holds at most 4 connections.
DEFAULT_CONCURRENCY = 256


async def audit_instance(client: CapRoverClient) -> InstanceAudit:
    """Log in, then read the apps and the CapRover version side by side.

    Never raises for a failure of this instance: whatever happens becomes its status.
    """
    # The app list and the version go out side by side on two connections; opening the
    # second one while the login is in flight takes its set-up off the critical path.
    warming = asyncio.create_task(client.preconnect(2))
    try:
        await client.login()
        apps, version = await asyncio.gather(client.app_definitions(), client.version_info())
    except CapRoverError as failure:
        return InstanceAudit(client.instance, failure.status, failure.reason)
    except Exception as failure:  # noqa: BLE001 - one bad instance must not stop the fleet
        # The type only: an exception's text may quote a request, and requests carry secrets.
        return InstanceAudit(
            client.instance, InstanceStatus.ERROR, f"unexpected error ({type(failure).__name__})"
        )
    finally:
        warming.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await warming
    return InstanceAudit(client.instance, InstanceStatus.OK, None, version, apps)


async def audit_stream(
    session: FleetSession,
    names: Iterable[str] | None = None,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> AsyncIterator[InstanceAudit]:
    """Yield each instance's audit as soon as it is known, at most ``concurrency`` at once."""
    limit = asyncio.Semaphore(max(1, concurrency))
    clients = session.clients(names)
    results: asyncio.Queue[InstanceAudit] = asyncio.Queue()

    async def one(client: CapRoverClient) -> None:
        async with limit:
            await results.put(await audit_instance(client))

    tasks = [asyncio.create_task(one(client)) for client in clients]
    try:
        for _ in tasks:
            yield await results.get()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def audit_fleet(
    session: FleetSession,
    names: Iterable[str] | None = None,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> list[InstanceAudit]:
    """Every instance's audit, in the session's (vault) order."""
    wanted = list(names) if names is not None else list(session.instances)
    by_name = {
        audit.instance.name: audit
        async for audit in audit_stream(session, wanted, concurrency=concurrency)
    }
    return [by_name[name] for name in wanted]
