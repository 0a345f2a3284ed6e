"""Updating CapRover itself: post the update, wait through the restart, confirm the version.

After the update is posted CapRover pulls its new image, answers, and restarts: nginx answers
502 (or connections are refused), then the API answers 1001 "not ready", then every old token
is rejected with 1106 (docs/caprover-api.md). The client logs in again by itself on 1106.

An update is a run like a deploy (``engine.Engine``): one plan row per instance, whose images
are CapRover's own (``caprover/caprover:<version>``), so the journal, ``gc-tui log`` and the
reconciliation read it as they read a deploy.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from gc_tui.core.caprover import (
    ApiError,
    BadResponse,
    Busy,
    CapRoverClient,
    CapRoverError,
    NoAnswer,
    NotReady,
    ServerDown,
    TokenInvalid,
    Unreachable,
)
from gc_tui.core.drift import compare_versions
from gc_tui.core.engine import Engine, EventSink, RowFailed, RowState
from gc_tui.core.journal import Journal
from gc_tui.core.model import InstanceAudit
from gc_tui.core.plan import Plan, PlanRow, SkipKind, SkippedRow
from gc_tui.core.session import FleetSession

DEFAULT_UPDATE_CONCURRENCY = 4  # a bad release should hit a few instances, not the fleet
UPDATE_ACTION = "caprover-update"
# The app name of an update's row: upper case, so no CapRover app can be called that.
CAPROVER_APP = "CapRover"
CAPROVER_IMAGE = "caprover/caprover"


def caprover_image(version: str | None) -> str | None:
    return f"{CAPROVER_IMAGE}:{version}" if version else None


def caprover_version(image: str | None) -> str | None:
    """The version in ``caprover/caprover:<version>``; None for anything else."""
    if image is None or not image.startswith(CAPROVER_IMAGE + ":"):
        return None
    return image[len(CAPROVER_IMAGE) + 1 :]


def update_row_json(instance: str, from_image: str | None, to_image: str | None,
                    state: str, error: str | None) -> dict[str, object]:
    """The caprover-update command's JSON row: versions, not images."""
    return {
        "instance": instance,
        "from_version": caprover_version(from_image),
        "to_version": caprover_version(to_image),
        "state": state,
        "error": error,
    }


@dataclass(frozen=True)
class UpdateTiming:
    poll_interval: float = 5.0
    deadline: float = 600.0  # then the row is "failed: did not come back"
    busy_retry: float = 5.0


def build_update_plan(
    audits: Sequence[InstanceAudit], names: Iterable[str] | None = None, *, read_only: bool = False
) -> Plan:
    """One row per instance whose CapRover reports a newer version; the rest skipped, why."""
    wanted = set(names) if names is not None else None
    rows: list[PlanRow] = []
    skipped: list[SkippedRow] = []
    for audit in audits:
        name = audit.instance.name
        if wanted is not None and name not in wanted:
            continue
        version = audit.version
        current = caprover_image(version.current) if version else None
        latest = caprover_image(version.latest) if version else None

        def skip(reason: str, kind: SkipKind, name: str = name, current: str | None = current,
                 latest: str | None = latest) -> None:
            skipped.append(SkippedRow(name, CAPROVER_APP, current, latest, reason, kind=kind))

        if not audit.ok or version is None:
            skip(f"instance failed the audit: {audit.error}", SkipKind.INSTANCE_FAILED)
            continue
        order = compare_versions(version.current, version.latest)
        if order is None:
            skip("cannot compare CapRover versions", SkipKind.OTHER)
        elif order >= 0:
            reason = "already on the latest version CapRover reports"
            if not version.can_update:
                reason += " (canUpdate is false: it may also mean the server could not check)"
            skip(reason, SkipKind.ON_TARGET)
        elif read_only or audit.instance.read_only:
            skip("read-only", SkipKind.READ_ONLY)
        elif any(app.is_building for app in audit.apps):
            skip("an app is building on this instance; update after it ends", SkipKind.BUSY)
        else:
            rows.append(PlanRow(name, CAPROVER_APP, current, latest or ""))
    return Plan(tuple(rows), tuple(skipped), UPDATE_ACTION)


class UpdateEngine(Engine):
    """Updates the planned instances, at most ``concurrency`` at once."""

    busy_label = "CapRover update"
    busy_phrase = "its CapRover update is running"

    def __init__(
        self,
        session: FleetSession,
        plan: Plan,
        *,
        concurrency: int = DEFAULT_UPDATE_CONCURRENCY,
        timing: UpdateTiming = UpdateTiming(),
        journal: Journal | None = None,
        on_event: EventSink | None = None,
    ) -> None:
        super().__init__(
            session, plan, concurrency=concurrency, journal=journal, on_event=on_event
        )
        self.timing = timing

    async def _run_instance(self, client: CapRoverClient, rows: Sequence[PlanRow]) -> None:
        for row in rows:
            try:
                await self._update(client, row)
            except RowFailed as failure:
                self._finish(row, RowState.FAILED, failure.reason)
            except CapRoverError as failure:
                self._finish(row, RowState.FAILED, failure.reason)
            except Exception as failure:  # noqa: BLE001 - one instance never stops the rest
                self._finish(row, RowState.FAILED, f"unexpected error ({type(failure).__name__})")
            else:
                self._finish(row, RowState.DONE, None)

    async def _update(self, client: CapRoverClient, row: PlanRow) -> None:
        to_version = caprover_version(row.to_image)
        assert to_version is not None
        deadline = time.monotonic() + self.timing.deadline
        # Re-check on the server: a deploy started elsewhere (the dashboard, a colleague)
        # must not be cut off by a restart.
        building = [app.name for app in await client.app_definitions() if app.is_building]
        if building:
            raise RowFailed(f"busy: {', '.join(building)} building on the server; never sent")
        await self._sending(row)
        while True:
            try:
                await client.start_caprover_update(to_version)
                break
            except Busy:
                if time.monotonic() > deadline:
                    self._emit(row, RowState.NOT_SENT)
                    raise RowFailed("the server stayed busy (HTTP 429)") from None
                await asyncio.sleep(self.timing.busy_retry)
            except (ServerDown, Unreachable, NoAnswer):
                # nginx gives up after 60 s while the pull goes on, and a connection that
                # closed before the answer may still mean CapRover took it: follow the
                # restart, and the version the server reports decides.
                break
            except (BadResponse, ApiError) as failure:
                # A whole answer that says no: an HTTP 500 is a failed pull of the new
                # version (docs/caprover-api.md, "Version and self-update"); nothing started.
                self._emit(row, RowState.NOT_SENT)
                raise RowFailed(f"the update was refused: {failure.reason}") from None
        self._emit(row, RowState.SENT)
        self._emit(row, RowState.RESTARTING)
        while True:
            if time.monotonic() > deadline:
                raise RowFailed(
                    f"did not come back within {self.timing.deadline:g} s on {to_version}"
                )
            await asyncio.sleep(self.timing.poll_interval)
            try:
                version = await client.version_info()
            except (ServerDown, Unreachable, NotReady, TokenInvalid, BadResponse):
                continue
            if version.current == to_version:
                self._emit(row, RowState.VERIFYING)
                return
