"""What the TUI does to the fleet, without the TUI: the session, audits, runs, busy, lock, quit.

``FleetOperations`` owns the unlocked session and every audit and run started from the
interactive table. It reports what happens as plain events to one listener (the Textual App
turns each into a message); it never touches a widget. So the behaviours that matter when
something goes wrong (an idle lock that waits for running deploys, a lost terminal, events
from before a lock, one notion of "busy") are tested without a terminal.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gc_tui.core.audit import audit_stream
from gc_tui.core.deploy import DeployEngine
from gc_tui.core.engine import Engine, EventSink, RowEvent, RowState
from gc_tui.core.journal import Journal, JournalRun, read_journal
from gc_tui.core.model import Instance, InstanceAudit
from gc_tui.core.operations_upstream import Upstream
from gc_tui.core.plan import Plan, PlanOptions, plan_options
from gc_tui.core.reconcile import Settlement, reconcile, record_settlements, splits_after
from gc_tui.core.registry_config import RegistryCredentials
from gc_tui.core.session import FleetSession
from gc_tui.core.targets import Targets
from gc_tui.core.update import UpdateEngine
from gc_tui.core.upstream import RepositoryLookup
from gc_tui.settings import Settings

# -- events out ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditArrived:
    """One instance answered (or failed to)."""

    audit: InstanceAudit
    epoch: int


@dataclass(frozen=True)
class AuditEnded:
    names: tuple[str, ...]  # empty: the whole fleet
    epoch: int
    error: str | None = None  # the audit itself broke (not one instance): shown, not raised


@dataclass(frozen=True)
class RowChanged:
    """A row of a run reached a state; ``to_image`` is what the row is deploying."""

    event: RowEvent
    to_image: str | None
    epoch: int


@dataclass(frozen=True)
class RunEnded:
    engine: Engine
    epoch: int
    error: str | None = None  # the run itself broke: its type only


@dataclass(frozen=True)
class Reconciled:
    """Rows an earlier run left open, compared with the servers; the settled ones journaled."""

    settlements: tuple[Settlement, ...]
    epoch: int
    error: str | None = None
    splits: tuple[str, ...] = ()  # a group the settled rows show split, one line each


@dataclass(frozen=True)
class UpstreamFound:
    """What a registry says of one repository (``cached``: from the cache file, while the
    fresh lookup runs)."""

    lookup: RepositoryLookup
    epoch: int
    cached: bool = False


@dataclass(frozen=True)
class Locked:
    """Credentials and everything the servers said are gone; ask for the vault again."""

    notice: str
    epoch: int


OpsEvent = (
    AuditArrived | AuditEnded | RowChanged | RunEnded | Reconciled | UpstreamFound | Locked
)


@dataclass(frozen=True)
class QuitQuestion:
    """What is still running, for the "quit anyway?" question."""

    deploying_rows: int
    updating_instances: tuple[str, ...]


class FleetOperations:
    def __init__(
        self,
        settings: Settings,
        listener: Callable[[OpsEvent], None],
        *,
        targets: Targets | None = None,
    ) -> None:
        self.settings = settings
        self._listener = listener
        self.targets = targets
        self.session: FleetSession | None = None
        self.upstream: Upstream | None = None  # the registries' side of the session
        self.instances: list[Instance] = []
        self.epoch = 0
        self.engines: list[Engine] = []
        self.auditing = 0  # instances in the audits running now
        # Instances whose rows have all ended and that are being read again: busy until the
        # new audit is in, or a deploy planned meanwhile would start from the old one.
        self.rereading: set[str] = set()
        self.lock_pending = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._audit_tasks: set[asyncio.Task[None]] = set()
        self._engine_tasks: dict[Engine, asyncio.Task[None]] = {}

    # -- the session ----------------------------------------------------------------------------

    @property
    def unlocked(self) -> bool:
        return self.session is not None

    def current(self, epoch: int) -> bool:
        """Whether an event of ``epoch`` still matters (events from before a lock do not)."""
        return epoch == self.epoch

    def unlocked_with(
        self,
        instances: Sequence[Instance],
        registry_credentials: Mapping[str, RegistryCredentials] | None = None,
    ) -> list[Instance]:
        """Start a session on the vault's instances (config and --instance applied) and audit.

        What the registries said last time (the upstream cache) is told at once; each
        repository is looked up again as the audits bring its apps in. Raises
        settings.UnknownInstances when --instance names one the vault lacks.
        """
        selected = self.settings.select(instances)
        self.instances = selected
        self.session = FleetSession(
            selected, self.settings.client, ca_files=self.settings.config.ca_files()
        )
        self.upstream = Upstream(self.settings, self.targets, registry_credentials or {})
        for lookup in self.upstream.cached():
            self._emit(UpstreamFound(lookup, self.epoch, cached=True))
        self.start_audit(None)
        return selected

    # -- audits -----------------------------------------------------------------------------------

    def start_audit(self, names: Sequence[str] | None) -> bool:
        """Audit ``names`` (None: everyone); False when there is no session."""
        if self.session is None:
            return False
        count = len(self.session.instances) if names is None else len(set(names))
        self.auditing += count
        task = self._spawn(
            self._audit(self.session, None if names is None else tuple(names), self.epoch, count)
        )
        self._audit_tasks.add(task)
        task.add_done_callback(self._audit_tasks.discard)
        return True

    async def _audit(
        self, session: FleetSession, names: tuple[str, ...] | None, epoch: int, count: int
    ) -> None:
        error: str | None = None
        try:
            async for audit in audit_stream(
                session, names, concurrency=self.settings.audit_concurrency
            ):
                self._emit(AuditArrived(audit, epoch))
                self.rereading.discard(audit.instance.name)
                self._look_up_upstream(audit, epoch)
        except asyncio.CancelledError:
            raise
        except Exception as err:  # noqa: BLE001 - shown, never raised: the type only
            error = f"The audit stopped: {type(err).__name__}"
        if self.current(epoch):
            self.auditing = max(0, self.auditing - count)
        self.rereading.difference_update(names or ())  # answered, or failed: no longer busy
        self._emit(AuditEnded(names or (), epoch, error))

    # -- what is new upstream ---------------------------------------------------------------------

    def _look_up_upstream(self, audit: InstanceAudit, epoch: int) -> None:
        """Ask the registries about this instance's repositories, beside the audit: an answer
        arrives as UpstreamFound whenever it comes, and nothing waits for it."""
        upstream = self.upstream
        if upstream is None or not audit.ok:
            return
        for repository, tags in upstream.new_tags(audit).items():
            self._spawn(self._look_up(upstream, repository, tags, epoch))

    async def _look_up(
        self, upstream: Upstream, repository: str, tags: list[str], epoch: int
    ) -> None:
        found = await upstream.look_up(repository, tags)
        if found is not None and self.current(epoch):
            self._emit(UpstreamFound(found, epoch))

    # -- runs -------------------------------------------------------------------------------------

    def plan_options(self) -> PlanOptions:
        return plan_options(
            self.targets, self.settings.hold_repositories, read_only=self.settings.read_only
        )

    def busy_instances(self) -> dict[str, str]:
        """Instances a run of this session is changing or will change, and with what.

        The one answer the dialogs (which skip them) and the runs (which refuse them through
        the session's write locks) share.
        """
        busy: dict[str, str] = {}
        for engine in self.engines:
            for name in engine.unfinished_instances():
                busy.setdefault(name, engine.busy_phrase)
        if self.session is not None:
            for name, what in self.session.busy_with.items():
                busy.setdefault(name, f"busy with {what}")
        for name in self.rereading:
            busy.setdefault(name, "a run just ended there and it is being read again")
        return busy

    def start_deploy(self, plan: Plan) -> Engine | None:
        session = self.session
        if session is None or self.settings.read_only or not plan.rows:
            return None  # the dialogs offer no button then; this is the second lock
        settings = self.settings
        return self._start(
            plan,
            lambda on_event: DeployEngine(
                session,
                plan,
                concurrency=settings.deploy_concurrency,
                timing=settings.deploy_timing,
                journal=Journal(settings.journal_path),
                on_event=on_event,
            ),
        )

    def start_update(self, plan: Plan) -> Engine | None:
        session = self.session
        if session is None or self.settings.read_only or not plan.rows:
            return None
        settings = self.settings
        runnable = Plan(plan.rows, (), plan.action)  # the skipped ones were shown, not run
        return self._start(
            runnable,
            lambda on_event: UpdateEngine(
                session,
                runnable,
                concurrency=settings.update_concurrency,
                timing=settings.update_timing,
                journal=Journal(settings.journal_path),
                on_event=on_event,
            ),
        )

    def _start(self, plan: Plan, make: Callable[[EventSink], Engine]) -> Engine:
        epoch = self.epoch
        to_images: dict[str, str | None] = {row.key: row.to_image for row in plan.rows}
        to_images.update({row.key: row.to_image for row in plan.skipped})
        # Rows still to end, per instance: once an instance's rows have all ended it is
        # audited again at once, so it shows what it runs now without waiting for the rest
        # of the batch (at the default concurrency a 100-instance batch takes minutes).
        unfinished: dict[str, set[str]] = {}
        for row in plan.rows:
            unfinished.setdefault(row.instance, set()).add(row.key)

        def on_event(event: RowEvent) -> None:
            self._emit(RowChanged(event, to_images.get(event.key), epoch))
            rows = unfinished.get(event.instance)
            if rows is not None and event.state.final:
                rows.discard(event.key)
                if not rows:
                    del unfinished[event.instance]
                    if self.current(epoch) and self.start_audit([event.instance]):
                        self.rereading.add(event.instance)

        engine = make(on_event)
        self.engines.append(engine)
        self._engine_tasks[engine] = self._spawn(self._run(engine, epoch))
        return engine

    async def _run(self, engine: Engine, epoch: int) -> None:
        error: str | None = None
        try:
            await engine.run()
        except asyncio.CancelledError:
            error = None  # a hard stop: the engine has reported every row
        except Exception as err:  # noqa: BLE001 - the rows say what happened; the type only
            error = f"The {engine.action} stopped: {type(err).__name__}"
        finally:
            self._engine_tasks.pop(engine, None)
            if engine in self.engines:
                self.engines.remove(engine)
        self._emit(RunEnded(engine, epoch, error))
        if self.lock_pending and not self.engines:
            self.lock()

    @property
    def running(self) -> bool:
        return bool(self.engines)

    def rows_in_flight(self) -> int:
        return sum(len(engine.unfinished_rows()) for engine in self.engines)

    # -- what an earlier run left open --------------------------------------------------------

    def unsettled_runs(self) -> list[JournalRun]:
        """Runs in the journal with rows whose last state is not final (a crash, a lost
        terminal): the journal is read without the vault."""
        return [run for run in read_journal(self.settings.journal_path).runs if run.unsettled]

    def start_reconcile(self, runs: Sequence[JournalRun]) -> bool:
        if self.session is None:
            return False
        self._spawn(self._reconcile(self.session, list(runs), self.epoch))
        return True

    async def _reconcile(
        self, session: FleetSession, runs: list[JournalRun], epoch: int
    ) -> None:
        try:
            settlements = await reconcile(session, runs)
            splits = splits_after(runs, settlements)
            record_settlements(Journal(self.settings.journal_path), settlements, splits)
        except Exception as err:  # noqa: BLE001 - shown, never raised: the type only
            self._emit(Reconciled((), epoch, f"Reconciling stopped: {type(err).__name__}"))
            return
        self._emit(Reconciled(tuple(settlements), epoch,
                              splits=tuple(split.message for _, split in splits)))
        names = sorted({s.row.instance for s in settlements if s.row.instance in session.instances})
        if names and self.current(epoch):
            self.start_audit(names)

    # -- the idle lock ----------------------------------------------------------------------------

    def lock(self, notice: str | None = None) -> bool:
        """Drop every credential and all that the servers said; True when it is done now.

        Running runs finish first (they hold tokens they need): the lock then waits for them.
        """
        if self.engines:
            self.lock_pending = True
            return False
        self.lock_pending = False
        self.epoch += 1
        for task in list(self._audit_tasks):
            task.cancel()
        self.auditing = 0
        self.rereading.clear()
        session, self.session = self.session, None
        upstream, self.upstream = self.upstream, None
        self.instances = []
        if session is not None:
            session.forget_credentials()
            self._spawn(session.aclose())
        if upstream is not None:
            self._spawn(upstream.aclose())  # registry credentials and tokens go too
        minutes = self.settings.lock_after_minutes
        self._emit(
            Locked(
                notice or f"Locked after {minutes:g} minute(s) without a key press. Unlock again.",
                self.epoch,
            )
        )
        return True

    def cancel_lock(self) -> None:
        """A key press while a lock waits for runs: the operator is back."""
        self.lock_pending = False

    # -- quitting ---------------------------------------------------------------------------------

    def quit_question(self) -> QuitQuestion | None:
        """None when nothing runs (quit at once); else what to tell before quitting."""
        if not self.engines:
            return None
        deploying = sum(
            len(engine.unfinished_rows())
            for engine in self.engines
            if not isinstance(engine, UpdateEngine)
        )
        updating = tuple(
            sorted({
                name
                for engine in self.engines
                if isinstance(engine, UpdateEngine)
                for name in engine.unfinished_instances()
            })
        )
        return QuitQuestion(deploying, updating)

    async def stop_runs(self) -> None:
        """Start nothing new and stop what runs now; every row ends reported and journaled.

        What the servers already received goes on there; ``gc-tui log --reconcile`` settles it.
        """
        for engine in list(self.engines):
            engine.cancel()
        tasks = list(self._engine_tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def exit_report(self, engines: Sequence[Engine]) -> tuple[list[str], int]:
        """Each row of ``engines`` that did not end done, with its state and reason, and the
        exit code: 1 when any such row exists."""
        lines: list[str] = []
        incomplete = False
        for engine in engines:
            for result in engine.final_results():
                if result.state is RowState.SKIPPED:
                    continue
                if result.state is not RowState.DONE:
                    incomplete = True
                    reason = f" ({result.error})" if result.error else ""
                    lines.append(
                        f"{engine.action} {engine.run_id}: {result.instance} / {result.app}: "
                        f"{result.state}{reason}"
                    )
            lines.extend(f"warning: {split.message}" for split in engine.splits)
        if incomplete:
            lines.append("Settle what the servers may still be doing with: gc-tui log --reconcile")
        return lines, (1 if incomplete else 0)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.session is not None:
            with contextlib.suppress(Exception):
                await self.session.aclose()
        if self.upstream is not None:
            with contextlib.suppress(Exception):
                await self.upstream.aclose()

    # -- plumbing ---------------------------------------------------------------------------------

    def _emit(self, event: OpsEvent) -> None:
        self._listener(event)

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task
