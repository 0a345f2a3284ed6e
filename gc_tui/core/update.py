"""Updating CapRover itself: post the update, wait through the restart, confirm the version.

After the update is posted CapRover pulls its new image, answers, and restarts: nginx answers
502 (or connections are refused), then the API answers 1001 "not ready", then every old token
is rejected with 1106 (caprover-api.md §8). The client logs in again by itself on 1106.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from gc_tui.core.caprover import (
    ApiError,
    BadResponse,
    Busy,
    CapRoverClient,
    CapRoverError,
    NotReady,
    ServerDown,
    TokenInvalid,
    Unreachable,
)
from gc_tui.core.deploylog import DeployLog, operator
from gc_tui.core.model import InstanceAudit
from gc_tui.core.session import FleetSession, InstanceBusy, run_to_the_end

DEFAULT_UPDATE_CONCURRENCY = 4  # a bad release should hit a few instances, not the fleet


class UpdateState(StrEnum):
    QUEUED = "queued"
    UPDATING = "updating"
    RESTARTING = "restarting"
    VERIFYING = "verifying"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class UpdateRow:
    instance: str
    from_version: str | None
    to_version: str | None
    state: UpdateState = UpdateState.QUEUED
    error: str | None = None

    def as_json(self) -> dict[str, object]:
        return {
            "instance": self.instance,
            "from_version": self.from_version,
            "to_version": self.to_version,
            "state": str(self.state),
            "error": self.error,
        }


@dataclass(frozen=True)
class UpdatePlan:
    rows: tuple[UpdateRow, ...]
    skipped: tuple[UpdateRow, ...] = ()


@dataclass(frozen=True)
class UpdateTiming:
    poll_interval: float = 5.0
    deadline: float = 600.0  # then the row is "failed: did not come back"
    busy_retry: float = 5.0


def parse_version(text: str) -> tuple[int, ...] | None:
    parts = text.strip().lstrip("v").split(".")
    if not parts or not all(part.isdigit() for part in parts):
        return None
    return tuple(int(part) for part in parts)


def build_update_plan(
    audits: Sequence[InstanceAudit], names: Iterable[str] | None = None, *, read_only: bool = False
) -> UpdatePlan:
    wanted = set(names) if names is not None else None
    rows: list[UpdateRow] = []
    skipped: list[UpdateRow] = []
    for audit in audits:
        name = audit.instance.name
        if wanted is not None and name not in wanted:
            continue
        version = audit.version
        current = version.current if version else None
        latest_seen = version.latest if version else None

        def skip(
            reason: str,
            name: str = name,
            current: str | None = current,
            latest: str | None = latest_seen,
        ) -> None:
            skipped.append(UpdateRow(name, current, latest, UpdateState.SKIPPED, reason))

        if not audit.ok or version is None:
            skip(f"instance failed the audit: {audit.error}")
            continue
        now, newest = parse_version(version.current), parse_version(version.latest)
        if now is None or newest is None:
            skip("cannot compare CapRover versions")
        elif newest <= now:
            reason = "already on the latest version CapRover reports"
            if not version.can_update:
                reason += " (canUpdate is false: it may also mean the server could not check)"
            skip(reason)
        elif read_only or audit.instance.read_only:
            skip("read-only")
        elif any(app.is_building for app in audit.apps):
            skip("an app is building on this instance; update after it ends")
        else:
            rows.append(UpdateRow(name, version.current, version.latest))
    return UpdatePlan(tuple(rows), tuple(skipped))


class UpdateFailed(Exception):
    pass


class UpdateEngine:
    """Updates the planned instances, at most ``concurrency`` at once."""

    def __init__(
        self,
        session: FleetSession,
        plan: UpdatePlan,
        *,
        concurrency: int = DEFAULT_UPDATE_CONCURRENCY,
        timing: UpdateTiming = UpdateTiming(),
        on_event: Callable[[UpdateRow], None] | None = None,
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
        self.results: dict[str, UpdateRow] = {}

    def cancel(self) -> None:
        self._cancelled = True

    def final_results(self) -> list[UpdateRow]:
        order = [row.instance for row in self.plan.rows + self.plan.skipped]
        return [self.results[name] for name in dict.fromkeys(order) if name in self.results]

    async def run(self) -> list[UpdateRow]:
        if self._log is not None:
            self._log.append(
                {
                    "type": "plan",
                    "run": self.run_id,
                    "action": "caprover-update",
                    "user": operator(),
                    "rows": [row.as_json() for row in self.plan.rows],
                    "skipped": [row.as_json() for row in self.plan.skipped],
                }
            )
        for row in self.plan.skipped:
            self.results[row.instance] = row
            self._emit(row)
        for row in self.plan.rows:
            self._emit(row)
        limit = asyncio.Semaphore(self.concurrency)
        try:
            await run_to_the_end(self._one(row, limit) for row in self.plan.rows)
        finally:
            for row in self.plan.rows:
                if row.instance not in self.results:
                    self._finish(row, UpdateState.CANCELLED, "interrupted; the update may go on")
        return self.final_results()

    async def _one(self, row: UpdateRow, limit: asyncio.Semaphore) -> None:
        async with limit:
            if self._cancelled:
                self._finish(row, UpdateState.CANCELLED, "cancelled before it started")
                return
            try:
                async with self.session.exclusive(row.instance, "CapRover update"):
                    await self._update(self.session.client(row.instance), row)
            except InstanceBusy as busy:
                self._finish(row, UpdateState.FAILED, f"instance busy: {busy}; not updated")
            except UpdateFailed as failure:
                self._finish(row, UpdateState.FAILED, str(failure))
            except CapRoverError as failure:
                self._finish(row, UpdateState.FAILED, failure.reason)
            except Exception as failure:  # noqa: BLE001 - one instance never stops the rest
                self._finish(row, UpdateState.FAILED, f"unexpected error ({type(failure).__name__})")
            else:
                self._finish(row, UpdateState.DONE, None)

    async def _update(self, client: CapRoverClient, row: UpdateRow) -> None:
        assert row.to_version is not None
        deadline = time.monotonic() + self.timing.deadline
        # Re-check on the server: a deploy started elsewhere (the dashboard, a colleague)
        # must not be cut off by a restart.
        building = [app.name for app in await client.app_definitions() if app.is_building]
        if building:
            raise UpdateFailed(f"busy: {', '.join(building)} building on the server; not updated")
        self._emit(UpdateRow(row.instance, row.from_version, row.to_version, UpdateState.UPDATING))
        while True:
            try:
                await client.start_caprover_update(row.to_version)
                break
            except Busy:
                if time.monotonic() > deadline:
                    raise UpdateFailed("the server stayed busy (HTTP 429)") from None
                await asyncio.sleep(self.timing.busy_retry)
            except (ServerDown, Unreachable):
                # nginx gives up after 60 s while the pull goes on: follow the restart.
                break
            except BadResponse as failure:
                raise UpdateFailed(f"the update was refused: {failure.reason}") from None
            except ApiError as failure:
                raise UpdateFailed(f"the update was refused: {failure.reason}") from None
        self._emit(UpdateRow(row.instance, row.from_version, row.to_version, UpdateState.RESTARTING))
        while True:
            if time.monotonic() > deadline:
                raise UpdateFailed(
                    f"did not come back within {self.timing.deadline:g} s on {row.to_version}"
                )
            await asyncio.sleep(self.timing.poll_interval)
            try:
                version = await client.version_info()
            except (ServerDown, Unreachable, NotReady, TokenInvalid, BadResponse):
                continue
            if version.current == row.to_version:
                self._emit(
                    UpdateRow(row.instance, row.from_version, row.to_version, UpdateState.VERIFYING)
                )
                return

    def _finish(self, row: UpdateRow, state: UpdateState, error: str | None) -> None:
        final = UpdateRow(row.instance, row.from_version, row.to_version, state, error)
        self.results[row.instance] = final
        if self._log is not None:
            self._log.append(
                {"type": "row", "run": self.run_id, "action": "caprover-update", **final.as_json()}
            )
        self._emit(final)

    def _emit(self, row: UpdateRow) -> None:
        if self._on_event is not None:
            self._on_event(row)
