"""Deploys and rollbacks: "Deploy via ImageName", followed until CapRover runs the image.

CapRover's own rules (docs/caprover-api.md): a detached deploy, then poll the build, wait for
the service update to settle, then confirm from ``appDefinitions`` that ``deployedVersion``
moved and runs the target image. Only then is a row ``done``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

from gc_tui.core.caprover import (
    ApiError,
    Busy,
    CapRoverClient,
    CapRoverError,
    NotReady,
    ServerDown,
    Unreachable,
)
from gc_tui.core.engine import Engine, EventSink, RowFailed, RowState
from gc_tui.core.journal import Journal
from gc_tui.core.plan import Plan, PlanRow
from gc_tui.core.session import FleetSession, run_to_the_end
from gc_tui.core.text import printable

DEFAULT_CONCURRENCY = 8
LOG_TAIL_LINES = 12


@dataclass(frozen=True)
class DeployTiming:
    """How a deploy paces itself; tests and benchmarks shrink these."""

    poll_interval: float = 2.0  # as CapRover's CLI and dashboard do
    # After isAppBuilding turns false CapRover still updates the service (a fixed 2 s wait
    # plus an nginx reload); a failure there shows up as isBuildFailed a few seconds later.
    settle_seconds: float = 5.0
    busy_retry_first: float = 1.0
    busy_retry_max: float = 15.0
    busy_give_up: float = 300.0
    # Polls that fail in a row (restart, network blip) before the row is given up.
    poll_failures_allowed: int = 10
    build_deadline: float = 3600.0


class DeployEngine(Engine):
    """Deploys (and rollbacks, which are deploys of an earlier image) for a plan."""

    busy_label = "app deploys"
    busy_phrase = "app deploys are running on it"

    def __init__(
        self,
        session: FleetSession,
        plan: Plan,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        timing: DeployTiming = DeployTiming(),
        journal: Journal | None = None,
        on_event: EventSink | None = None,
    ) -> None:
        super().__init__(
            session, plan, concurrency=concurrency, journal=journal, on_event=on_event
        )
        self.timing = timing

    async def _run_instance(self, client: CapRoverClient, rows: Sequence[PlanRow]) -> None:
        built: list[tuple[PlanRow, tuple[str, ...]]] = []
        for row in rows:
            if self._cancelled:
                self._finish(row, RowState.CANCELLED, "cancelled before it started; never sent")
                continue
            log_tail = await self._deploy_and_build(client, row)
            if log_tail is not None:
                built.append((row, log_tail))
        # Verification waits for the service update to settle; meanwhile the next app of the
        # instance could build (CapRover updates the service after freeing the build slot).
        await run_to_the_end(self._verify(client, row, log_tail) for row, log_tail in built)

    async def _deploy_and_build(
        self, client: CapRoverClient, row: PlanRow
    ) -> tuple[str, ...] | None:
        """Send the deploy and follow the build; the build log's tail, or None if it ended."""
        try:
            await self._sending(row)
            await self._send_deploy(client, row)
            self._emit(row, RowState.SENT)
            self._emit(row, RowState.BUILDING)
            log_tail = await self._follow_build(client, row)
        except RowFailed as failure:
            self._finish(row, RowState.FAILED, failure.reason, failure.log_tail)
            return None
        except CapRoverError as failure:
            self._finish(row, RowState.FAILED, self._send_failure(row, failure))
            return None
        except Exception as failure:  # noqa: BLE001 - one row's bug must not stop the others
            self._finish(row, RowState.FAILED, f"unexpected error ({type(failure).__name__})")
            return None
        self._emit(row, RowState.VERIFYING, log_tail=log_tail)
        return log_tail

    def _send_failure(self, row: PlanRow, failure: CapRoverError) -> str:
        """The reason, saying whether the server may have the deploy after all."""
        if self.states.get(row.key) is not RowState.SENDING:
            return failure.reason
        if isinstance(failure, ApiError):
            self._emit(row, RowState.NOT_SENT, error=failure.reason)
            return failure.reason
        return f"{failure.reason}; no answer to the deploy: the server may have received it"

    async def _send_deploy(self, client: CapRoverClient, row: PlanRow) -> None:
        delay = self.timing.busy_retry_first
        deadline = time.monotonic() + self.timing.busy_give_up
        while True:
            try:
                await client.deploy_image(row.app, row.to_image or "")
                return
            except Busy:
                # Another write holds CapRover's lock (someone in the dashboard, or a
                # settling update); it is released when that request ends. Nothing of this
                # attempt reached the app: the server answered 429 at once.
                if time.monotonic() + delay > deadline:
                    reason = f"the server stayed busy (HTTP 429) for {self.timing.busy_give_up:g} s"
                    self._emit(row, RowState.NOT_SENT, error=reason)
                    raise RowFailed(reason) from None
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.timing.busy_retry_max)

    async def _follow_build(self, client: CapRoverClient, row: PlanRow) -> tuple[str, ...]:
        deadline = time.monotonic() + self.timing.build_deadline
        failures = 0
        log_tail: tuple[str, ...] = ()
        while True:
            try:
                status = await client.build_status(row.app)
                failures = 0
            except (Unreachable, ServerDown, NotReady) as failure:
                failures += 1
                if failures > self.timing.poll_failures_allowed:
                    raise RowFailed(f"lost contact while building: {failure.reason}") from None
                await asyncio.sleep(self.timing.poll_interval)
                continue
            log_tail = _tail(status.lines)
            if not status.is_building:
                if status.is_failed:
                    raise RowFailed("the build failed on the server", log_tail)
                return log_tail
            if time.monotonic() > deadline:
                raise RowFailed(f"still building after {self.timing.build_deadline:g} s", log_tail)
            await asyncio.sleep(self.timing.poll_interval)

    async def _verify(
        self, client: CapRoverClient, row: PlanRow, log_tail: tuple[str, ...]
    ) -> None:
        try:
            await asyncio.sleep(self.timing.settle_seconds)
            status = await client.build_status(row.app)
            if status.is_failed:
                tail = _tail(status.lines) or log_tail
                raise RowFailed("the service update failed after the build", tail)
            apps = {app.name: app for app in await client.app_definitions()}
            app = apps.get(row.app)
            if app is None:
                raise RowFailed("the app disappeared from the server during the deploy", log_tail)
            if app.deployed_version <= row.from_version:
                raise RowFailed(
                    f"deployedVersion stayed at {app.deployed_version}; the new version did "
                    "not go live",
                    log_tail,
                )
            if app.image != row.to_image:
                raise RowFailed(
                    f"version {app.deployed_version} runs {printable(app.image, 200)}, "
                    "not the target",
                    log_tail,
                )
        except RowFailed as failure:
            self._finish(row, RowState.FAILED, failure.reason, failure.log_tail)
        except CapRoverError as failure:
            self._finish(row, RowState.FAILED, f"could not verify: {failure.reason}", log_tail)
        except Exception as failure:  # noqa: BLE001
            self._finish(
                row, RowState.FAILED, f"unexpected error ({type(failure).__name__})", log_tail
            )
        else:
            self._finish(row, RowState.DONE, None, log_tail)


def _tail(lines: Sequence[str]) -> tuple[str, ...]:
    return tuple(lines[-LOG_TAIL_LINES:])
