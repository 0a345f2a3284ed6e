"""Settling the rows a run left open (a kill, a lost terminal) against what servers run now.

For each row whose last journaled state is not final:

- never ``sending``: nothing left this machine, so it is ``cancelled``;
- an app deploy (or rollback): CapRover adds a version entry when a build starts and names its
  image only when the build succeeded (docs/caprover-api.md, "The app listing"). A version is
  the run's when its number is above the deployed version the plan saw (journaled with the
  run) and it is stamped after the run started, give or take CLOCK_SKEW (the server's clock
  is not this machine's). So the row is ``done`` when the app now runs ``to_image`` in such
  a version;
  ``failed`` when such a version has no image and nothing builds (the build failed:
  the build log's last lines say why); still open while the app builds; and
  ``failed: no trace on the server`` when no such version appeared;
- a CapRover update: ``done`` when the server now reports the target version, else
  ``failed: no trace on the server`` (it still runs the old one).

A row whose instance cannot be read now stays open, with the reason; run again later.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from gc_tui.core.caprover import CapRoverClient, CapRoverError
from gc_tui.core.engine import GroupSplit, group_splits
from gc_tui.core.journal import Journal, JournalRow, JournalRun
from gc_tui.core.model import AppInfo, AppVersion
from gc_tui.core.session import FleetSession
from gc_tui.core.update import CAPROVER_APP, caprover_version

OPEN = "open"  # not settled yet: the server is still at it, or could not be read
# How far a server's clock may lag this machine's and its versions still count as the run's.
# Kept journals name the version the plan saw, which decides first; the clock only keeps out
# entries from long before the run.
CLOCK_SKEW = timedelta(minutes=10)
LOG_TAIL_LINES = 12


@dataclass(frozen=True)
class Settlement:
    run_id: str
    row: JournalRow
    state: str  # done, failed, cancelled, or OPEN
    error: str | None = None
    log_tail: tuple[str, ...] = ()

    @property
    def settled(self) -> bool:
        return self.state != OPEN

    def as_json(self) -> dict[str, object]:
        return {**self.row.as_json(), "state": self.state, "error": self.error}


def _when(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


async def reconcile(
    session: FleetSession, runs: Sequence[JournalRun], *, concurrency: int = 32
) -> list[Settlement]:
    """A settlement for every unsettled row of ``runs``, in run and row order."""
    settlements: dict[tuple[str, str], Settlement] = {}
    to_ask: dict[str, list[tuple[JournalRun, JournalRow]]] = {}
    for run in runs:
        for row in run.unsettled:
            if not row.was_sent:
                settlements[(run.run_id, row.key)] = Settlement(
                    run.run_id, row, "cancelled", "never sent (the run stopped before it)"
                )
            elif row.instance not in session.instances:
                settlements[(run.run_id, row.key)] = Settlement(
                    run.run_id, row, OPEN, "the instance is not in the vault selection"
                )
            else:
                to_ask.setdefault(row.instance, []).append((run, row))
    limit = asyncio.Semaphore(max(1, concurrency))

    async def one(instance: str, rows: list[tuple[JournalRun, JournalRow]]) -> None:
        async with limit:
            for settlement in await _settle_instance(session.client(instance), rows):
                settlements[(settlement.run_id, settlement.row.key)] = settlement

    await asyncio.gather(*(one(name, rows) for name, rows in to_ask.items()))
    return [
        settlements[(run.run_id, row.key)]
        for run in runs
        for row in run.unsettled
        if (run.run_id, row.key) in settlements
    ]


async def _settle_instance(
    client: CapRoverClient, rows: list[tuple[JournalRun, JournalRow]]
) -> list[Settlement]:
    try:
        apps = {app.name: app for app in await client.app_definitions()}
        current = None
        if any(row.app == CAPROVER_APP for _, row in rows):
            current = (await client.version_info()).current
    except CapRoverError as failure:
        return [
            Settlement(run.run_id, row, OPEN, f"cannot read the server now: {failure.reason}")
            for run, row in rows
        ]
    settled = []
    for run, row in rows:
        if row.app == CAPROVER_APP:
            settled.append(_settle_update(run, row, current))
        else:
            settled.append(await _settle_deploy(client, run, row, apps.get(row.app)))
    return settled


def _settle_update(run: JournalRun, row: JournalRow, current: str | None) -> Settlement:
    wanted = caprover_version(row.to_image)
    if current is not None and current == wanted:
        return Settlement(run.run_id, row, "done")
    return Settlement(
        run.run_id, row, "failed", f"no trace on the server: it runs CapRover {current}"
    )


async def _settle_deploy(
    client: CapRoverClient, run: JournalRun, row: JournalRow, app: AppInfo | None
) -> Settlement:
    if app is None:
        return Settlement(run.run_id, row, "failed", "no trace on the server: the app is gone")
    since = [version for version in app.versions if _of_this_run(version, run, row)]
    live = next((v for v in since if v.version == app.deployed_version), None)
    if live is not None and live.image == row.to_image:
        return Settlement(run.run_id, row, "done")
    if app.is_building:
        return Settlement(run.run_id, row, OPEN, "still building on the server; run again later")
    if not since:
        return Settlement(run.run_id, row, "failed", "no trace on the server")
    try:
        status = await client.build_status(row.app)
    except CapRoverError as failure:
        return Settlement(run.run_id, row, OPEN, f"cannot read the build: {failure.reason}")
    if status.is_building:
        return Settlement(run.run_id, row, OPEN, "still building on the server; run again later")
    tail = tuple(status.lines[-LOG_TAIL_LINES:])
    if status.is_failed or any(version.image is None for version in since):
        return Settlement(run.run_id, row, "failed", "the build failed on the server", tail)
    return Settlement(
        run.run_id, row, "failed",
        f"the server built it, but the app now runs {app.image} (changed since)", tail,
    )


def _of_this_run(version: AppVersion, run: JournalRun, row: JournalRow) -> bool:
    """Whether a version entry may be this run's: above the version the plan saw (when the
    journal kept it), and stamped after the run started, allowing for the server's clock to
    be behind this machine's by up to CLOCK_SKEW."""
    if row.from_version is not None and version.version <= row.from_version:
        return False
    started = _when(run.started_at)
    if started is None:
        return True
    at = _when(version.timestamp)
    return at is not None and at >= started - CLOCK_SKEW


def splits_after(
    runs: Sequence[JournalRun], settlements: Sequence[Settlement]
) -> list[tuple[str, GroupSplit]]:
    """(run id, split) for each service group a run left split, once its rows are settled:
    a run that was killed never got to say so itself. Groups with a row still open wait."""
    ended = {(s.run_id, s.row.key): s.state for s in settlements if s.settled}
    found: list[tuple[str, GroupSplit]] = []
    for run in runs:
        rows = [
            (row.instance, row.group, ended.get((run.run_id, row.key), row.state),
             row.from_image, row.to_image, (run.run_id, row.key) in ended or row.settled)
            for row in run.rows.values()
        ]
        waiting = {(row[0], row[1]) for row in rows if not row[5]}
        found += [
            (run.run_id, split)
            for split in group_splits(row[:5] for row in rows if (row[0], row[1]) not in waiting)
        ]
    return found


def record_settlements(
    journal: Journal,
    settlements: Sequence[Settlement],
    splits: Sequence[tuple[str, GroupSplit]] = (),
) -> None:
    """Append the settled ones, and the groups found split, to the journal (it is never
    rewritten); open ones stay open."""
    journal.queue(
        {"type": "split", "run": run_id, "instance": split.instance, "group": split.group,
         "counts": dict(split.counts), "message": split.message, "reconciled": True}
        for run_id, split in splits
    )
    journal.append_all(
        {
            "type": "row",
            "run": settlement.run_id,
            "instance": settlement.row.instance,
            "app": settlement.row.app,
            "state": settlement.state,
            "error": settlement.error,
            "log_tail": list(settlement.log_tail),
            "reconciled": True,
        }
        for settlement in settlements
        if settlement.settled
    )


def every_row_done(runs: Sequence[JournalRun], settlements: Sequence[Settlement]) -> bool:
    """Whether every planned row of ``runs`` ended done, counting the new settlements."""
    ended = {(s.run_id, s.row.key): s.state for s in settlements}
    return all(
        ended.get((run.run_id, row.key), row.state) == "done"
        for run in runs
        for row in run.rows.values()
        if row.state != "skipped"
    )
