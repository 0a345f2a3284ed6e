"""Wake whoever waits for a fake server's state to change, so tests wait on events, not time.

Every fake instance has one ``ChangeSignal``; it is notified whenever something a test may
wait for happens there (see ``FakeInstance.changes``). A waiter re-checks its condition on
each notification. Everything here runs on the fleet's event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable

# How long a wait may last before it fails: a bound so a broken test fails instead of hanging,
# far above anything a passing test needs.
WAIT_LIMIT_SECONDS = 60.0


class ChangeSignal:
    """A list of waiting futures; notifying costs one check when no one waits."""

    __slots__ = ("_waiters",)

    def __init__(self) -> None:
        self._waiters: set[asyncio.Future[None]] = set()

    def notify(self) -> None:
        if not self._waiters:
            return
        waiters, self._waiters = self._waiters, set()
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)


async def wait_until(
    condition: Callable[[], object],
    signals: Iterable[ChangeSignal],
    *,
    timeout: float | None = WAIT_LIMIT_SECONDS,
) -> None:
    """Return once ``condition()`` is truthy, re-checking it whenever one of ``signals`` fires.

    Raises TimeoutError after ``timeout`` seconds (None: wait for ever).
    """
    watched = list(signals)
    try:
        async with asyncio.timeout(timeout):
            while not condition():
                waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                for signal in watched:
                    signal._waiters.add(waiter)
                try:
                    await waiter
                finally:
                    for signal in watched:
                        signal._waiters.discard(waiter)
    except TimeoutError:
        raise TimeoutError(f"the fake never reached the awaited state in {timeout} s") from None
