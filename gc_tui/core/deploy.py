"""The deploy executor: one deploy at a time per instance, many instances at once.

Follows CapRover's own rules (caprover-api.md §4, §6, §12): detached deploy, poll the build,
wait for the service update to settle, then confirm from ``appDefinitions`` that
``deployedVersion`` moved and runs the target image. Every state change is an event; every
row's end is written to the deploy log as it happens.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from gc_tui.core.caprover import (
    Busy,
    CapRoverClient,
    CapRoverError,
    NotReady,
    ServerDown,
    Unreachable,
)
from gc_tui.core.deploylog import DeployLog, operator
from gc_tui.core.plan import Plan, PlanRow
from gc_tui.core.session import FleetSession, InstanceBusy, run_to_the_end
from gc_tui.core.text import printable

DEFAULT_CONCURRENCY = 8
LOG_TAIL_LINES = 12


class RowState(StrEnum):
    QUEUED = "queued"
    DEPLOYING = "deploying"
    BUILDING = "building"
    VERIFYING = "verifying"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"

    @property
    def final(self) -> bool:
        return self in _FINAL


_FINAL = {RowState.DONE, RowState.FAILED, RowState.CANCELLED, RowState.SKIPPED}


@dataclass(frozen=True)
class Timing:
    """How the executor paces itself; tests and benchmarks shrink these."""

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


@dataclass(frozen=True)
class RowUpdate:
    """One row's state changed. ``error`` and ``log_tail`` are server text: display as data."""

    key: str
    instance: str
    app: str
    state: RowState
    error: str | None = None
    log_tail: tuple[str, ...] = ()
    started_at: float | None = None  # monotonic; the UI shows elapsed time from it
    at: float = 0.0


@dataclass(frozen=True)
class RowResult:
    instance: str
    app: str
    from_image: str | None
    to_image: str | None
    state: RowState
    error: str | None = None
    log_tail: tuple[str, ...] = ()
    group: str | None = None
    added_by_group: bool = False
    elapsed: float | None = None

    @property
    def key(self) -> str:
        return f"{self.instance}/{self.app}"

    def as_json(self) -> dict[str, object]:
        return {
            "instance": self.instance,
            "app": self.app,
            "from_image": self.from_image,
            "to_image": self.to_image,
            "state": str(self.state),
            "error": self.error,
            "group": self.group,
            "added_by_group": self.added_by_group,
        }


class RowFailed(Exception):
    def __init__(self, reason: str, log_tail: tuple[str, ...] = ()) -> None:
        super().__init__(reason)
        self.reason = reason
        self.log_tail = log_tail


EventSink = Callable[[RowUpdate], None]


class DeployEngine:
    """Runs a plan. ``cancel()`` starts nothing new; rows already sent run to their end."""

    def __init__(
        self,
        session: FleetSession,
        plan: Plan,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        timing: Timing = Timing(),
        on_event: EventSink | None = None,
        log: DeployLog | None = None,
    ) -> None:
        self.session = session
        self.plan = plan
        self.concurrency = max(1, concurrency)
        self.timing = timing
        self._on_event = on_event
        self._log = log
        self._cancelled = False
        self.run_id = uuid.uuid4().hex[:12]
        self.results: dict[str, RowResult] = {}
        self._started: dict[str, float] = {}

    def cancel(self) -> None:
        self._cancelled = True

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    async def run(self) -> list[RowResult]:
        self._log_plan()
        for skipped in self.plan.skipped:
            self._finish(
                RowResult(
                    skipped.instance,
                    skipped.app,
                    skipped.from_image,
                    skipped.to_image,
                    RowState.SKIPPED,
                    skipped.reason,
                    group=skipped.group,
                    added_by_group=skipped.added_by_group,
                ),
                log=False,
            )
        for row in self.plan.rows:
            self._emit(row, RowState.QUEUED)
        limit = asyncio.Semaphore(self.concurrency)
        per_instance: dict[str, list[PlanRow]] = {}
        for row in self.plan.rows:
            per_instance.setdefault(row.instance, []).append(row)
        try:
            await run_to_the_end(
                self._run_instance(name, rows, limit) for name, rows in per_instance.items()
            )
        finally:
            # A hard stop (a second Ctrl-C, the app quitting) still reports every row.
            for row in self.plan.rows:
                if row.key not in self.results:
                    self._finish(
                        self._result(
                            row,
                            RowState.CANCELLED,
                            "interrupted; a build already started may still finish on the server",
                        )
                    )
            self._report_group_failures()
        return self.final_results()

    def final_results(self) -> list[RowResult]:
        """Every row known so far, in plan order (all of them once ``run`` has returned)."""
        return [self.results[key] for key in self._ordered_keys() if key in self.results]

    # -- per instance ----------------------------------------------------------------------

    async def _run_instance(
        self, name: str, rows: Sequence[PlanRow], limit: asyncio.Semaphore
    ) -> None:
        async with limit:
            try:
                async with self.session.exclusive(name, "app deploys"):
                    await self._run_rows(name, rows)
            except InstanceBusy as busy:
                for row in rows:
                    self._finish(self._result(row, RowState.FAILED, f"instance busy: {busy}"))

    async def _run_rows(self, name: str, rows: Sequence[PlanRow]) -> None:
        client = self.session.client(name)
        verifications = []
        for row in rows:
            if self._cancelled:
                self._finish(self._result(row, RowState.CANCELLED, "cancelled before it started"))
                continue
            verify = await self._deploy_and_build(client, row)
            if verify is not None:
                # The next app may start building while this one's service update settles:
                # CapRover runs that update after the build slot is free.
                verifications.append(verify)
        await run_to_the_end(verifications)

    async def _deploy_and_build(
        self, client: CapRoverClient, row: PlanRow
    ) -> Coroutine[Any, Any, None] | None:
        """Send the deploy and follow the build; returns the verification still to run."""
        self._started[row.key] = time.monotonic()
        try:
            self._emit(row, RowState.DEPLOYING)
            await self._send_deploy(client, row)
            self._emit(row, RowState.BUILDING)
            log_tail = await self._follow_build(client, row)
        except RowFailed as failure:
            self._finish(self._result(row, RowState.FAILED, failure.reason, failure.log_tail))
            return None
        except CapRoverError as failure:
            self._finish(self._result(row, RowState.FAILED, failure.reason))
            return None
        except Exception as failure:  # noqa: BLE001 - one row's bug must not stop the others
            self._finish(
                self._result(row, RowState.FAILED, f"unexpected error ({type(failure).__name__})")
            )
            return None
        self._emit(row, RowState.VERIFYING, log_tail=log_tail)
        return self._verify(client, row, log_tail)

    async def _send_deploy(self, client: CapRoverClient, row: PlanRow) -> None:
        delay = self.timing.busy_retry_first
        deadline = time.monotonic() + self.timing.busy_give_up
        while True:
            try:
                await client.deploy_image(row.app, row.to_image)
                return
            except Busy:
                # Another write holds CapRover's lock (someone in the dashboard, or a
                # settling update); it is released when that request ends.
                if time.monotonic() + delay > deadline:
                    raise RowFailed(
                        f"the server stayed busy (HTTP 429) for {self.timing.busy_give_up:g} s"
                    ) from None
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
            self._finish(self._result(row, RowState.FAILED, failure.reason, failure.log_tail))
        except CapRoverError as failure:
            self._finish(
                self._result(row, RowState.FAILED, f"could not verify: {failure.reason}", log_tail)
            )
        except Exception as failure:  # noqa: BLE001
            self._finish(
                self._result(
                    row, RowState.FAILED, f"unexpected error ({type(failure).__name__})", log_tail
                )
            )
        else:
            self._finish(self._result(row, RowState.DONE, None, log_tail))

    # -- reporting -----------------------------------------------------------------------

    def _result(
        self,
        row: PlanRow,
        state: RowState,
        error: str | None,
        log_tail: tuple[str, ...] = (),
    ) -> RowResult:
        started = self._started.get(row.key)
        return RowResult(
            row.instance,
            row.app,
            row.from_image,
            row.to_image,
            state,
            error,
            log_tail,
            row.group,
            row.added_by_group,
            None if started is None else round(time.monotonic() - started, 3),
        )

    def _emit(self, row: PlanRow, state: RowState, *, log_tail: tuple[str, ...] = ()) -> None:
        if self._on_event is not None:
            self._on_event(
                RowUpdate(
                    row.key,
                    row.instance,
                    row.app,
                    state,
                    None,
                    log_tail,
                    self._started.get(row.key),
                    time.monotonic(),
                )
            )

    def _finish(self, result: RowResult, *, log: bool = True) -> None:
        self.results[result.key] = result
        if log and self._log is not None:
            self._log.append(
                {"type": "row", "run": self.run_id, "action": self.plan.action, **result.as_json()}
            )
        if self._on_event is not None:
            self._on_event(
                RowUpdate(
                    result.key,
                    result.instance,
                    result.app,
                    result.state,
                    result.error,
                    result.log_tail,
                    self._started.get(result.key),
                    time.monotonic(),
                )
            )

    def _report_group_failures(self) -> None:
        """A failed member leaves its group split: say so on the other members' rows."""
        failed: dict[tuple[str, str], list[RowResult]] = {}
        for result in self.results.values():
            if result.group and result.state is RowState.FAILED:
                failed.setdefault((result.instance, result.group), []).append(result)
        for key, result in list(self.results.items()):
            culprits = [
                other
                for other in failed.get((result.instance, result.group or ""), [])
                if other.app != result.app
            ]
            if not culprits or result.state is RowState.SKIPPED:
                continue
            note = "; ".join(f"group member {other.app} failed: {other.error}" for other in culprits)
            error = f"{result.error}; {note}" if result.error else note
            self.results[key] = replace(result, error=error)
            if self._on_event is not None:
                self._on_event(
                    RowUpdate(
                        key,
                        result.instance,
                        result.app,
                        result.state,
                        error,
                        result.log_tail,
                        None,
                        time.monotonic(),
                    )
                )

    def _log_plan(self) -> None:
        if self._log is None:
            return
        self._log.append(
            {
                "type": "plan",
                "run": self.run_id,
                "action": self.plan.action,
                "user": operator(),
                "rows": [
                    {
                        "instance": row.instance,
                        "url": self.session.instances[row.instance].url
                        if row.instance in self.session.instances
                        else None,
                        "app": row.app,
                        "from_image": row.from_image,
                        "to_image": row.to_image,
                        "group": row.group,
                        "added_by_group": row.added_by_group,
                    }
                    for row in self.plan.rows
                ],
                "skipped": [
                    {
                        "instance": row.instance,
                        "app": row.app,
                        "from_image": row.from_image,
                        "to_image": row.to_image,
                        "reason": row.reason,
                    }
                    for row in self.plan.skipped
                ],
            }
        )

    def _ordered_keys(self) -> list[str]:
        keys = [row.key for row in self.plan.rows] + [row.key for row in self.plan.skipped]
        return list(dict.fromkeys(keys))


def _tail(lines: Sequence[str]) -> tuple[str, ...]:
    return tuple(lines[-LOG_TAIL_LINES:])
