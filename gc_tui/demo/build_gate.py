"""A gate a test closes to keep a fake server's builds running until it says they may end.

Builds wait at the end of their image pull, so a held deploy reports ``isAppBuilding: true``
for exactly as long as the test holds it, then succeeds or fails as the test decides. Tests
drive the gate from their own thread while builds run on the fleet's loop, so every method
is safe to call from any thread.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(eq=False)
class _HeldBuild:
    app_name: str
    loop: asyncio.AbstractEventLoop
    # True when the test released it with ``fail=True``.
    verdict: asyncio.Future[bool]


class BuildGate:
    """Open unless held; ``release`` lets every held build go on and opens the gate."""

    def __init__(self) -> None:
        # Guards ``_holding`` and ``_held`` together: a build must never join the held list
        # after a release from another thread has already emptied it.
        self._lock = threading.Lock()
        self._holding = False
        self._held: list[_HeldBuild] = []

    def hold(self) -> None:
        """Builds that reach the end of their pull from now on wait there."""
        with self._lock:
            self._holding = True

    def release(self, *, fail: bool = False) -> None:
        """Let the held builds end (their pull failing if ``fail``) and stop holding new ones.

        The builds held now are let go even if ``hold`` is called again at once, so
        ``release(); hold()`` lets exactly the waiting builds through.
        """
        with self._lock:
            self._holding = False
            released, self._held = self._held, []
        for build in released:
            if not build.loop.is_closed():
                build.loop.call_soon_threadsafe(_decide, build.verdict, fail)

    @property
    def holding(self) -> bool:
        return self._holding

    def held(self) -> list[str]:
        """The apps whose builds wait at the gate now, in the order they arrived."""
        with self._lock:
            return [build.app_name for build in self._held]

    async def pass_through(self, app_name: str, on_held: Callable[[], None]) -> bool:
        """Wait while the gate is held; True when the build must fail its pull.

        ``on_held`` runs once the build has joined the held list, so a test waiting for it to
        be held is woken after ``held()`` shows it.
        """
        with self._lock:
            if not self._holding:
                return False
            loop = asyncio.get_running_loop()
            build = _HeldBuild(app_name, loop, loop.create_future())
            self._held.append(build)
        on_held()
        try:
            return await build.verdict
        finally:
            with self._lock:
                if build in self._held:  # cancelled while held: the process died
                    self._held.remove(build)


def _decide(verdict: asyncio.Future[bool], fail: bool) -> None:
    if not verdict.done():
        verdict.set_result(fail)
