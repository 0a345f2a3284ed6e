"""versionInfo on a fake CapRover, and its self-update: the answer, then the restart.

What a client sees during the restart (refused or 502, then 1001, then stale tokens) is in
docs/caprover-api.md ("Version and self-update").
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from gc_tui.demo.http_wire import Response
from gc_tui.demo.instance import FakeInstance, Phase, RestartMode, version_tuple
from gc_tui.demo.responses import envelope, internal_server_error


class SelfUpdate:
    """versionInfo GET and POST for one instance, and the restart a POST sets off.

    ``take_down`` and ``bring_up`` close and reopen the server's port (the restart mode
    ``refuse`` means nothing listens while the container is down).
    """

    def __init__(
        self,
        instance: FakeInstance,
        *,
        take_down: Callable[[], Awaitable[None]],
        bring_up: Callable[[], Awaitable[None]],
    ) -> None:
        self.instance = instance
        self._take_down = take_down
        self._bring_up = bring_up
        self._restart_task: asyncio.Task[None] | None = None

    def version_info(self) -> Response:
        instance = self.instance
        if instance.version_check_fails:
            latest, changelog = instance.version, ""
        else:
            latest, changelog = instance.newest_version, instance.changelog
        data = {
            "currentVersion": instance.version,
            "latestVersion": latest,
            "changeLogMessage": changelog,
            "canUpdate": version_tuple(latest) > version_tuple(instance.version),
        }
        return envelope(100, "Version Info Retrieved", data)

    async def start(self, body: dict[str, Any]) -> Response:
        """POST versionInfo: pull the new version's image, answer, then restart on it."""
        instance = self.instance
        target = str(body.get("latestVersion") or "")
        await asyncio.sleep(instance.update_pull_seconds)
        pullable = bool(target) and all(part.isdigit() for part in target.split("."))
        if instance.update_fails or not pullable:
            return internal_server_error()  # docker pull of the tag failed
        response = envelope(100, "Captain update process has started...")
        response.on_finished.append(lambda: self._begin_restart(target))
        return response

    def cancel(self) -> None:
        if self._restart_task is not None:
            self._restart_task.cancel()

    def _begin_restart(self, new_version: str) -> None:
        if self._restart_task is None or self._restart_task.done():
            self._restart_task = asyncio.get_running_loop().create_task(
                self.restart(new_version)
            )

    async def restart(self, new_version: str) -> None:
        """The captain container going down and coming back on ``new_version``."""
        instance = self.instance
        for task in instance.state.tasks:
            task.cancel()  # the process dies with its builds
        instance.phase = Phase.DOWN
        instance.changes.notify()
        refuse = RestartMode(instance.restart_mode) is RestartMode.REFUSE
        if refuse:
            await self._take_down()
        if instance.never_returns:
            return
        await asyncio.sleep(instance.restart_seconds)
        instance.version = new_version
        instance.restart()
        instance.phase = Phase.NOT_READY
        instance.changes.notify()
        if refuse:
            await self._bring_up()
        await asyncio.sleep(instance.not_ready_seconds)
        instance.phase = Phase.RUNNING
        instance.changes.notify()
