"""What every run over the fleet shares: deploys, rollbacks and CapRover updates.

A run is given a plan whose rows were fixed before anything is sent. It works on one instance
at a time per instance (CapRover builds one thing at a time and answers 429 to concurrent
writes) and on many instances at once, up to a cap. Every state change of every row goes to
the listener (the CLI's printer, the TUI) and to the journal, ``sending`` before the request
that changes a server leaves. However a run ends (done, Ctrl-C, a hard stop), every row ends
in a final state whose reason tells what the server may still be doing.

Subclasses say what working on one instance means (``DeployEngine``, ``UpdateEngine``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import ClassVar

from gc_tui.core.caprover import CapRoverClient
from gc_tui.core.journal import Journal, JournalError, now_iso, operator
from gc_tui.core.plan import Plan, PlanRow, SkippedRow
from gc_tui.core.session import FleetSession, InstanceBusy, run_to_the_end


class RowState(StrEnum):
    """A row's progress; the journal records each one as it is reached."""

    PLANNED = "planned"
    SENDING = "sending"  # on disk before the request that changes the server leaves
    SENT = "sent"  # the server answered and accepted it
    NOT_SENT = "not sent"  # the server answered and refused it: nothing changed there
    BUILDING = "building"
    RESTARTING = "restarting"  # CapRover itself, after its update
    VERIFYING = "verifying"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"

    @property
    def final(self) -> bool:
        return self in FINAL_STATES

    @property
    def reached_server(self) -> bool:
        """The request may have reached the server (it went out, or was accepted)."""
        return self in _MAYBE_ON_SERVER


FINAL_STATES = frozenset({RowState.DONE, RowState.FAILED, RowState.CANCELLED, RowState.SKIPPED})
_MAYBE_ON_SERVER = frozenset(
    {RowState.SENDING, RowState.SENT, RowState.BUILDING, RowState.RESTARTING, RowState.VERIFYING}
)


@dataclass(frozen=True)
class RowEvent:
    """A row reached a state. ``error`` and ``log_tail`` are server text: display as data."""

    run_id: str
    action: str
    key: str
    instance: str
    app: str
    state: RowState
    error: str | None = None
    log_tail: tuple[str, ...] = ()
    started_at: float | None = None  # monotonic; the UI shows elapsed time from it
    at: float = 0.0  # monotonic


@dataclass(frozen=True)
class RowResult:
    """How one planned or skipped row ended."""

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


@dataclass(frozen=True)
class GroupSplit:
    """A service group that ended with its members in different states on one instance."""

    instance: str
    group: str
    counts: tuple[tuple[str, int], ...]  # (state, members), most first

    @property
    def message(self) -> str:
        parts = ", ".join(f"{count} {state}" for state, count in self.counts)
        return f"group {self.group} on {self.instance} is split: {parts}"


# (instance, group, final state, from_image, to_image) of one row of a run.
EndedRow = tuple[str, str | None, str, str | None, str | None]


def group_splits(rows: Iterable[EndedRow]) -> list[GroupSplit]:
    """Every service group whose members ended in different states on one instance.

    A member skipped because it already runs the target ends where a done one does. One the
    plan skipped for another reason (a server build, a held image) was named with its reason
    before anything was sent: it is not what the run left behind, so it does not count.
    """
    members: dict[tuple[str, str], Counter[str]] = {}
    for instance, group, state, from_image, to_image in rows:
        if not group:
            continue
        if state == RowState.SKIPPED and from_image != to_image:
            continue
        word = "done" if state == RowState.SKIPPED else state
        members.setdefault((instance, group), Counter())[word] += 1
    return [
        GroupSplit(instance, group, tuple(states.most_common()))
        for (instance, group), states in members.items()
        if len(states) > 1
    ]


class RowFailed(Exception):
    def __init__(self, reason: str, log_tail: tuple[str, ...] = ()) -> None:
        super().__init__(reason)
        self.reason = reason
        self.log_tail = log_tail


EventSink = Callable[[RowEvent], None]


class Engine(ABC):
    """Runs a plan. ``cancel()`` starts nothing new; what was sent runs to its end."""

    # What holds an instance while this engine works on it, for "instance busy" messages,
    # and the same as a sentence, for the dialogs that skip such an instance.
    busy_label: ClassVar[str] = "a run"
    busy_phrase: ClassVar[str] = "a run is changing it"

    def __init__(
        self,
        session: FleetSession,
        plan: Plan,
        *,
        concurrency: int,
        journal: Journal | None = None,
        on_event: EventSink | None = None,
    ) -> None:
        self.session = session
        self.plan = plan
        self.concurrency = max(1, concurrency)
        self.journal = journal
        self._on_event = on_event
        self._cancelled = False
        self.run_id = uuid.uuid4().hex[:12]
        self.started_at = now_iso()
        self.results: dict[str, RowResult] = {}
        self.states: dict[str, RowState] = {}
        self.splits: list[GroupSplit] = []
        self._started: dict[str, float] = {}
        self._rows = {row.key: row for row in plan.rows}

    @property
    def action(self) -> str:
        return self.plan.action

    def cancel(self) -> None:
        self._cancelled = True

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def unfinished_rows(self) -> list[PlanRow]:
        return [row for row in self.plan.rows if row.key not in self.results]

    def unfinished_instances(self) -> set[str]:
        return {row.instance for row in self.unfinished_rows()}

    @property
    def finished(self) -> bool:
        return not self.unfinished_rows()

    async def run(self) -> list[RowResult]:
        try:
            self._journal_run()
        except JournalError as err:
            return self._refuse(f"{err}; never sent")
        for skipped in self.plan.skipped:
            self._finish_skipped(skipped)
        for row in self.plan.rows:
            self._emit(row, RowState.PLANNED, journal=False)  # the run record holds them
        limit = asyncio.Semaphore(self.concurrency)
        per_instance: dict[str, list[PlanRow]] = {}
        for row in self.plan.rows:
            per_instance.setdefault(row.instance, []).append(row)
        try:
            await run_to_the_end(
                self._instance(name, rows, limit) for name, rows in per_instance.items()
            )
        finally:
            # A hard stop (a second Ctrl-C, the app quitting) still reports every row.
            for row in self.unfinished_rows():
                self._finish(row, RowState.CANCELLED, self._interrupted_reason(row))
            self._report_group_failures()
            self._report_splits()
            if self.journal is not None:
                # What is still queued goes down now, even when the run is being torn down;
                # a failure was already reported on the rows it stopped.
                with contextlib.suppress(JournalError):
                    self.journal.flush()
        return self.final_results()

    def _refuse(self, reason: str) -> list[RowResult]:
        """Nothing could be recorded: every row ends failed, and nothing was sent."""
        for skipped in self.plan.skipped:
            self._finish_skipped(skipped)
        for row in self.plan.rows:
            self._finish(row, RowState.FAILED, reason)
        return self.final_results()

    def final_results(self) -> list[RowResult]:
        """Every row known so far, in plan order (all of them once ``run`` has returned)."""
        keys = [row.key for row in self.plan.rows] + [row.key for row in self.plan.skipped]
        return [self.results[key] for key in dict.fromkeys(keys) if key in self.results]

    # -- per instance -----------------------------------------------------------------------

    async def _instance(self, name: str, rows: Sequence[PlanRow], limit: asyncio.Semaphore) -> None:
        async with limit:
            if self._cancelled:
                for row in rows:
                    self._finish(row, RowState.CANCELLED, "cancelled before it started; never sent")
                return
            try:
                async with self.session.exclusive(name, self.busy_label):
                    await self._run_instance(self.session.client(name), rows)
            except InstanceBusy as busy:
                for row in rows:
                    self._finish(row, RowState.FAILED, f"instance busy: {busy}; never sent")

    @abstractmethod
    async def _run_instance(self, client: CapRoverClient, rows: Sequence[PlanRow]) -> None:
        """Work through ``rows`` (all on ``client``'s instance); finish every one of them."""

    def _interrupted_reason(self, row: PlanRow) -> str:
        state = self.states.get(row.key, RowState.PLANNED)
        if state is RowState.SENDING:
            return "interrupted while sending: the server may have received it"
        if state.reached_server:
            return (
                f"interrupted while {state}: what the server started goes on there; "
                "gc-tui log --reconcile settles it"
            )
        return "cancelled before it started; never sent"

    # -- transitions ----------------------------------------------------------------------------

    def _emit(
        self,
        row: PlanRow,
        state: RowState,
        *,
        error: str | None = None,
        log_tail: tuple[str, ...] = (),
        journal: bool = True,
    ) -> None:
        if state is RowState.SENDING:
            self._started.setdefault(row.key, time.monotonic())
        self.states[row.key] = state
        if journal and self.journal is not None:
            record: dict[str, object] = {
                "type": "row",
                "run": self.run_id,
                "action": self.action,
                "instance": row.instance,
                "app": row.app,
                "state": str(state),
            }
            if error is not None:
                record["error"] = error
            if log_tail:
                record["log_tail"] = list(log_tail)
            self.journal.queue([record])
            self.journal.flush_soon()
        if self._on_event is not None:
            self._on_event(
                RowEvent(
                    self.run_id,
                    self.action,
                    row.key,
                    row.instance,
                    row.app,
                    state,
                    error,
                    log_tail,
                    self._started.get(row.key),
                    time.monotonic(),
                )
            )

    async def _sending(self, row: PlanRow) -> None:
        """Journal ``sending`` and wait until it is on disk: only then may the request leave.

        A journal that cannot be written stops the row before anything is sent (RowFailed).
        """
        self._emit(row, RowState.SENDING)
        if self.journal is None:
            return
        try:
            await self.journal.durable()
        except JournalError as err:
            self._emit(row, RowState.NOT_SENT, error=str(err))
            raise RowFailed(f"{err}; never sent") from None

    def _finish(
        self, row: PlanRow, state: RowState, error: str | None, log_tail: tuple[str, ...] = ()
    ) -> None:
        if row.key in self.results:
            return  # a row ends once
        started = self._started.get(row.key)
        self.results[row.key] = RowResult(
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
        self._emit(row, state, error=error, log_tail=log_tail)

    def _finish_skipped(self, skipped: SkippedRow) -> None:
        self.results[skipped.key] = RowResult(
            skipped.instance,
            skipped.app,
            skipped.from_image,
            skipped.to_image,
            RowState.SKIPPED,
            skipped.reason,
            group=skipped.group,
            added_by_group=skipped.added_by_group,
        )
        self.states[skipped.key] = RowState.SKIPPED
        if self._on_event is not None:
            self._on_event(
                RowEvent(self.run_id, self.action, skipped.key, skipped.instance, skipped.app,
                         RowState.SKIPPED, skipped.reason, (), None, time.monotonic())
            )

    # -- the end of a run -------------------------------------------------------------------------

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
            note = "; ".join(
                f"group member {other.app} failed: {other.error}" for other in culprits
            )
            error = f"{result.error}; {note}" if result.error else note
            self.results[key] = replace(result, error=error)
            if self._on_event is not None:
                self._on_event(
                    RowEvent(self.run_id, self.action, key, result.instance, result.app,
                             result.state, error, result.log_tail, None, time.monotonic())
                )

    def _report_splits(self) -> None:
        """Name every service group whose members ended in different states on an instance."""
        self.splits = group_splits(
            (result.instance, result.group, str(result.state), result.from_image,
             result.to_image)
            for result in self.results.values()
        )
        if self.journal is not None:
            self.journal.queue([
                {"type": "split", "run": self.run_id, "instance": split.instance,
                 "group": split.group, "counts": dict(split.counts), "message": split.message}
                for split in self.splits
            ])

    def _journal_run(self) -> None:
        if self.journal is None:
            return
        instances = self.session.instances
        self.journal.append(
            {
                "type": "run",
                "run": self.run_id,
                "action": self.action,
                "user": operator(),
                "rows": [
                    {
                        "instance": row.instance,
                        "url": instances[row.instance].url if row.instance in instances else None,
                        "app": row.app,
                        "from_image": row.from_image,
                        "to_image": row.to_image,
                        "from_version": row.from_version,
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
                        "group": row.group,
                        "reason": row.reason,
                    }
                    for row in self.plan.skipped
                ],
            }
        )
