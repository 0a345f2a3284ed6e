"""The gc-tui App: owns the session, the row model and every worker; screens only draw.

Data flows one way: vault -> instances -> audit_stream -> AuditArrived -> model -> table, and
deploy dialog -> Plan -> DeployEngine -> DeployRowChanged -> model -> table. Workers never
touch widgets; they post messages and the handlers below change state.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from rich.text import Text
from textual import events
from textual.app import App, SystemCommand
from textual.message import Message
from textual.screen import Screen
from textual.worker import WorkerFailed

from gc_tui.core.audit import audit_stream
from gc_tui.core.deploy import DeployEngine, RowUpdate
from gc_tui.core.deploylog import DeployLog
from gc_tui.core.model import Instance
from gc_tui.core.plan import Plan, PlanOptions, plan_options
from gc_tui.core.session import FleetSession
from gc_tui.core.targets import PinReport, Targets
from gc_tui.core.update import (
    UpdateEngine,
    UpdatePlan,
    UpdateRow,
    UpdateState,
    build_update_plan,
)
from gc_tui.tui.commands import fleet_commands
from gc_tui.tui.crash import crash_report
from gc_tui.tui.fleet_model import DriftFn, FleetModel, FleetRow, RowKind
from gc_tui.tui.messages import (
    AuditArrived,
    AuditEnded,
    DeployEnded,
    DeployRowChanged,
    InstanceDeployed,
    UpdateEnded,
    UpdateRowChanged,
)
from gc_tui.tui.options import TuiOptions
from gc_tui.tui.pin import pin_body, pin_conflicts, plan_pin_rows
from gc_tui.tui.screens.confirm import ConfirmScreen
from gc_tui.tui.screens.deploy import DeployScreen
from gc_tui.tui.screens.detail import DetailScreen
from gc_tui.tui.screens.export import ExportRequest, ExportScreen
from gc_tui.tui.screens.fleet import FleetScreen
from gc_tui.tui.screens.help import HelpScreen
from gc_tui.tui.screens.unlock import UnlockRequest, UnlockScreen
from gc_tui.tui.screens.update import UpdateScreen

FLUSH_INTERVAL = 0.25  # state changes: 4 repaints a second at most (tui-notes.md §3.2)
# Rows that arrive (audits) are drawn at once, then at most this often while more arrive.
ROWS_FLUSH_INTERVAL = 0.1


class GcTuiApp(App[None]):
    CSS_PATH = Path(__file__).parent / "app.tcss"  # absolute: subclasses live elsewhere
    TITLE = "gc-tui"

    def __init__(self, options: TuiOptions, *, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.options = options
        self.clock = clock
        self.fleet = FleetModel()
        self.session: FleetSession | None = None
        self.instances: list[Instance] = []
        self.epoch = 0  # bumped by each lock: messages from an older epoch are dropped
        self.auditing = 0
        self.engines: list[DeployEngine] = []
        self.update_engines: list[UpdateEngine] = []
        self.drift_fn: DriftFn | None = None
        self.targets: Targets | None = None
        self.targets_error: str | None = None
        self._last_input = clock()
        self._lock_pending = False
        self._auto_password = options.password
        self._flush_pending = False
        self._last_flush = 0.0

    # -- start ---------------------------------------------------------------------------

    def on_mount(self) -> None:
        self.drift_fn = self._load_targets()
        self.push_screen(FleetScreen(with_drift=self.drift_fn is not None))
        self._ask_unlock(notice=self.targets_error)
        self.set_interval(FLUSH_INTERVAL, self._flush_fleet)
        lock_seconds = self.options.lock_after_minutes * 60
        if lock_seconds > 0:
            self.set_interval(min(30.0, max(lock_seconds / 4, 0.05)), self._check_idle)
        self._watch_terminal()

    def _watch_terminal(self) -> None:
        """Leave cleanly when the SSH session drops (tui-notes.md §3.7).

        SIGHUP usually kills the process, but not under nohup or some sudo shells, where a
        TUI without a terminal spins; and a hard kill skips the demo's clean-up. What was sent
        keeps running on the servers; what is still queued is cancelled and logged.
        """
        try:
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self._terminal_gone)
        except (NotImplementedError, RuntimeError, ValueError):
            pass  # not the main thread (tests), or no signals here
        if sys.__stdin__ is not None and sys.__stdin__.isatty():
            self.set_interval(5.0, self._check_terminal)

    def _check_terminal(self) -> None:
        if sys.__stdin__ is None or not sys.__stdin__.isatty():
            self._terminal_gone()

    def _terminal_gone(self) -> None:
        for engine in self.engines:
            engine.cancel()
        for update_engine in self.update_engines:
            update_engine.cancel()
        self.exit(return_code=129)

    @property
    def targets_path(self) -> Path | None:
        path = self.options.targets_path or self.options.config.targets
        return Path(path) if path is not None else None

    def _load_targets(self) -> DriftFn | None:
        path = self.targets_path
        if path is None:
            return None
        try:
            from gc_tui.core.targets import load_targets

            targets = load_targets(path)
        except Exception as err:  # noqa: BLE001 - a bad targets file must not stop the audit
            self.targets_error = f"Targets file not loaded: {err}"
            return None
        return self._use_targets(targets)

    def _use_targets(self, targets: Targets) -> DriftFn:
        from gc_tui.core.drift import drift_of

        self.targets = targets
        self.targets_error = None
        return lambda app_name, image: drift_of(app_name, image, targets)

    def _ask_unlock(self, notice: str | None = None) -> None:
        options = self.options
        request = UnlockRequest(
            vault=options.vault or options.config.vault,
            keyfile=options.keyfile or options.config.keyfile,
            group=options.group or options.config.group,
            tag=options.tag or options.config.tag,
            allow_slow=options.allow_slow,
            hint=options.unlock_hint,
            notice=notice,
        )
        password, self._auto_password = self._auto_password, None
        self.push_screen(UnlockScreen(request, password), callback=self._unlocked)

    def _unlocked(self, instances: list[Instance] | None) -> None:
        if instances is None:
            return
        instances = self.options.config.apply_to(instances)
        wanted = self.options.instance_names
        if wanted:
            known = {instance.name for instance in instances}
            missing = [name for name in wanted if name not in known]
            if missing:
                self.notify(f"Not in the vault: {', '.join(missing)}", severity="warning",
                            markup=False)
            instances = [instance for instance in instances if instance.name in wanted]
        self.instances = instances
        self.session = FleetSession(
            instances, self.options.config.client, ca_files=self.options.config.ca_files()
        )
        self.fleet = FleetModel([instance.name for instance in instances], self.drift_fn)
        self._last_input = self.clock()
        self.start_audit(None)
        self.fleet_screen.flush(force_header=True)

    @property
    def fleet_screen(self) -> FleetScreen:
        for screen in self.screen_stack:
            if isinstance(screen, FleetScreen):
                return screen
        raise LookupError("the fleet screen is not mounted")

    # -- the audit -----------------------------------------------------------------------

    def start_audit(self, names: Sequence[str] | None) -> None:
        if self.session is None:
            return
        self.auditing += 1
        self.run_worker(
            self._audit(self.session, None if names is None else tuple(names), self.epoch),
            group="audit",
            exit_on_error=False,
        )

    async def _audit(
        self, session: FleetSession, names: tuple[str, ...] | None, epoch: int
    ) -> None:
        error: str | None = None
        try:
            async for audit in audit_stream(
                session, names, concurrency=self.options.audit_concurrency
            ):
                self.post_message(AuditArrived(audit, epoch))
        except Exception as err:  # noqa: BLE001 - shown, never raised: the type only
            error = f"The audit stopped: {type(err).__name__}"
        finally:
            self.post_message(AuditEnded(names or (), epoch, error))

    def on_audit_arrived(self, message: AuditArrived) -> None:
        if message.epoch == self.epoch:
            self.fleet.apply_audit(message.audit)
            self.flush_soon()

    @property
    def rows_pending(self) -> bool:
        """Rows have changed and are not drawn yet (a flush is scheduled)."""
        return self._flush_pending

    def flush_soon(self) -> None:
        """Draw arriving rows without waiting for the 4 Hz tick.

        The flush runs after the messages already queued (audits that arrived together are
        drawn together), and at most every ROWS_FLUSH_INTERVAL while more keep arriving.
        """
        if self._flush_pending:
            return
        self._flush_pending = True
        wait = self._last_flush + ROWS_FLUSH_INTERVAL - time.monotonic()
        if wait > 0:
            self.set_timer(wait, self._flush_fleet)
        else:
            self.call_later(self._flush_fleet)

    def on_audit_ended(self, message: AuditEnded) -> None:
        if message.epoch != self.epoch:
            return
        self.auditing = max(0, self.auditing - 1)
        if message.error:
            self.notify(message.error, severity="error", markup=False)
        self.fleet_screen.flush(force_header=True)

    def refresh_fleet(self) -> None:
        if self.session is None:
            return
        if self.auditing:
            self.notify("An audit is already running.", markup=False)
            return
        self.start_audit(None)
        self.fleet_screen.flush(force_header=True)

    def retry_failed(self) -> None:
        """R: audit the failed instances again, and mark the rows whose deploy failed."""
        failed_instances = self.fleet.failed_instances()
        failed_rows = self.fleet.failed_deploy_keys()
        if failed_instances:
            self.start_audit(failed_instances)
        if failed_rows:
            self.fleet.unmark_all()
            self.fleet.set_marks(failed_rows, True)
        if not failed_instances and not failed_rows:
            self.notify("Nothing has failed.", markup=False)
            return
        parts = []
        if failed_instances:
            parts.append(f"auditing {len(failed_instances)} failed instance(s) again")
        if failed_rows:
            parts.append(f"marked {len(failed_rows)} failed deploy row(s): press d to retry")
        self.notify("; ".join(parts).capitalize() + ".", markup=False)
        self.fleet_screen.flush(force_header=True)

    # -- deploys -------------------------------------------------------------------------

    def plan_options(self) -> PlanOptions:
        return plan_options(
            self.targets,
            self.options.config.hold_repositories,
            read_only=self.options.effective_read_only,
        )

    def open_deploy(self, rows: Sequence[FleetRow], initial_image: str | None = None) -> None:
        if not rows:
            self.notify("Nothing to deploy: mark rows with space (or put the cursor on an app).",
                        markup=False)
            return
        if initial_image is None:
            targets = {row.deploy.to_image for row in rows if row.deploy is not None}
            if len(targets) == 1 and None not in targets and all(
                row.deploy is not None for row in rows
            ):
                initial_image = next(iter(targets))  # retrying failed rows: same image
        self.push_screen(
            DeployScreen(rows, dict(self.fleet.audits), self.plan_options(),
                         initial_image=initial_image, busy=self.busy_instances()),
            callback=self._deploy_confirmed,
        )

    def busy_instances(self) -> dict[str, str]:
        """Instances this session is changing now, and with what: the dialogs skip them.

        The engines refuse such an instance anyway (``FleetSession.write_lock``); this lets
        the dialog say so before anything is confirmed.
        """
        busy: dict[str, str] = {}
        for engine in self.engines:
            for row in engine.plan.rows:
                if row.key not in engine.results:
                    busy.setdefault(row.instance, "app deploys are running on it")
        for update_engine in self.update_engines:
            for update in update_engine.plan.rows:
                if update.instance not in update_engine.results:
                    busy[update.instance] = "its CapRover update is running"
        if self.session is not None:
            for name, what in self.session.busy_with.items():
                busy.setdefault(name, f"busy with {what}")
        return busy

    def _deploy_confirmed(self, plan: Plan | None) -> None:
        if plan is not None:
            self.start_deploy(plan)

    def start_deploy(self, plan: Plan) -> None:
        if self.session is None or self.options.effective_read_only:
            return  # the dialog offers no Deploy button then; this is the second lock
        to_images: dict[str, str | None] = {row.key: row.to_image for row in plan.rows}
        to_images.update({row.key: row.to_image for row in plan.skipped})
        epoch = self.epoch
        # Rows still to end, per instance: once an instance's rows have all ended it is
        # audited again at once, so its image and tag show the truth without waiting for the
        # rest of the batch (at the default concurrency a 100-instance batch takes minutes).
        unfinished: dict[str, set[str]] = {}
        for row in plan.rows:
            unfinished.setdefault(row.instance, set()).add(row.key)

        def on_event(update: RowUpdate) -> None:
            self.post_message(DeployRowChanged(update, to_images.get(update.key), epoch))
            rows = unfinished.get(update.instance)
            if rows is not None and update.state.final:
                rows.discard(update.key)
                if not rows:
                    del unfinished[update.instance]
                    self.post_message(InstanceDeployed(update.instance, epoch))

        engine = DeployEngine(
            self.session,
            plan,
            concurrency=self.options.deploy_concurrency,
            timing=self.options.deploy_timing,
            on_event=on_event,
            log=DeployLog(self.options.log_path),
        )
        self.fleet.reset_deploys(to_images)
        self.engines.append(engine)
        self.run_worker(
            self._run_engine(
                engine, "The deploy", lambda error: DeployEnded(engine, epoch, error, unfinished)
            ),
            group="deploy",
            exit_on_error=False,
        )
        self.fleet_screen.flush(force_header=True)

    async def _run_engine(
        self,
        engine: DeployEngine | UpdateEngine,
        what: str,
        ended: Callable[[str | None], Message],
    ) -> None:
        """Run an engine in a worker; its end (and a crash, by type only) comes as a message."""
        error: str | None = None
        try:
            await engine.run()
        except Exception as err:  # noqa: BLE001 - the rows say what happened; the type only
            error = f"{what} stopped: {type(err).__name__}"
        finally:
            self.post_message(ended(error))

    def on_deploy_row_changed(self, message: DeployRowChanged) -> None:
        if message.epoch == self.epoch:
            self.fleet.apply_deploy(message.update, message.to_image)

    def on_instance_deployed(self, message: InstanceDeployed) -> None:
        if message.epoch == self.epoch:
            # Re-read what the server runs now, so image and tag show the truth.
            self.start_audit([message.instance])

    def on_deploy_ended(self, message: DeployEnded) -> None:
        if message.engine in self.engines:
            self.engines.remove(message.engine)
        if message.error:
            self.notify(message.error, severity="error", markup=False)
        if message.epoch == self.epoch and message.unfinished:
            # Instances whose rows did not all report an end (a crash of the engine): read
            # them again too. The others were read as soon as their rows ended.
            self.start_audit(list(message.unfinished))
        if self._lock_pending and not self.running_engines:
            self.lock()

    # -- other screens -------------------------------------------------------------------

    def open_detail(self, key: str) -> None:
        self.push_screen(DetailScreen(key, self._show_detail))

    def _show_detail(self, screen: DetailScreen) -> None:
        row = self.fleet.rows.get(screen.key)
        url = None
        if row is not None and self.session is not None:
            instance = self.session.instances.get(row.instance)
            url = instance.url if instance is not None else None
        screen.show(row, url, time.monotonic(), self._split_groups_of(row))

    def _split_groups_of(self, row: FleetRow | None) -> list[str]:
        """The row's service groups that run more than one image on its instance."""
        if row is None or row.kind is not RowKind.APP:
            return []
        audit = self.fleet.audits.get(row.instance)
        if audit is None or not audit.ok:
            return []
        from gc_tui.core.drift import instance_drift
        from gc_tui.core.groups import split_groups

        if self.targets is not None:
            splits = instance_drift(audit, self.targets, fleet_newest_caprover=None).split_groups
        else:
            splits = tuple(split_groups(audit.apps))
        return [
            split.detail for split in splits
            if any(member == row.app_name for member, _ in split.members)
        ]

    def open_help(self) -> None:
        self.push_screen(HelpScreen(id="help-screen"))

    def open_export(self) -> None:
        visible = self.fleet.visible_keys()
        default = Path.cwd() / f"gc-tui-export-{time.strftime('%Y%m%d-%H%M%S')}.csv"
        self.push_screen(ExportScreen(len(visible), default), callback=self._export)

    def _export(self, request: ExportRequest | None) -> None:
        if request is None:
            return
        from gc_tui.tui.export import ExportError, write_export

        rows = [self.fleet.rows[key] for key in self.fleet.visible_keys()]
        try:
            count = write_export(request.path, rows, request.fmt)
        except ExportError as err:
            self.notify(str(err), severity="error", markup=False)
            return
        self.notify(f"Exported {count} rows to {request.path}", markup=False)

    # -- pinning targets ---------------------------------------------------------------------

    def pin_targets(self, rows: Sequence[FleetRow]) -> None:
        """p: make the images of ``rows`` the targets of their apps, after a confirmation."""
        from gc_tui.core.targets import TargetsError, load_targets

        path = self.targets_path
        if path is None:
            self.notify("No targets file: start gc-tui with --targets FILE, or set targets in "
                        "the config. Nothing pinned.", severity="warning", markup=False)
            return
        rows = [row for row in rows if row.kind is RowKind.APP and row.app is not None]
        if not rows:
            self.notify("Nothing to pin: mark app rows with space (or put the cursor on one).",
                        markup=False)
            return
        conflicts = pin_conflicts(rows)
        if conflicts:
            self.notify("Not pinned: " + "; ".join(conflicts)
                        + ". Mark rows that run one image per app.",
                        severity="error", markup=False, timeout=12)
            return
        try:
            current = load_targets(path) if path.exists() else Targets(images={}, path=path)
        except TargetsError as err:
            self.notify(f"Not pinned: {err}", severity="error", markup=False)
            return
        report = plan_pin_rows(current, rows)
        if not report.changes:
            reasons = "; ".join(f"{skip.app}: {skip.reason}" for skip in report.skipped)
            self.notify("Nothing to pin: the targets already match"
                        + (f" ({reasons})" if reasons else "") + ".", markup=False)
            return
        self.push_screen(
            ConfirmScreen(f"Pin {len(report.changes)} target(s) in {path.name}?",
                          pin_body(report, path), "Pin", "Cancel", id="confirm-pin"),
            callback=lambda answer: self._pin_confirmed(answer, path, report),
        )

    def _pin_confirmed(self, answer: bool | None, path: Path, report: PinReport) -> None:
        if not answer:
            return
        from gc_tui.core.targets import save_targets

        try:
            save_targets(path, report.targets)
        except OSError as err:
            self.notify(f"Not pinned: cannot write {path}: {err.strerror or err}",
                        severity="error", markup=False)
            return
        self.drift_fn = self._use_targets(report.targets)
        self.fleet.set_drift(self.drift_fn)
        self.fleet_screen.show_drift()
        self.notify(f"Pinned {len(report.changes)} target(s) in {path}.", markup=False)

    # -- CapRover updates --------------------------------------------------------------------

    def update_caprover(self, rows: Sequence[FleetRow]) -> None:
        """U: update CapRover on the instances of ``rows``, after the dialog."""
        names = list(dict.fromkeys(row.instance for row in rows))
        if not names:
            self.notify("Nothing to update: mark rows with space (or put the cursor on one).",
                        markup=False)
            return
        read_only = self.options.effective_read_only
        audits = [self.fleet.audits[name] for name in names if name in self.fleet.audits]
        plan = build_update_plan(audits, names, read_only=read_only)
        busy = self.busy_instances()
        plan = UpdatePlan(
            tuple(row for row in plan.rows if row.instance not in busy),
            tuple(
                UpdateRow(row.instance, row.from_version, row.to_version, UpdateState.SKIPPED,
                          f"busy: {busy[row.instance]}; update after it ends")
                for row in plan.rows if row.instance in busy
            ) + plan.skipped,
        )
        off_reason = (
            "Updating CapRover is off: gc-tui runs read-only (--read-only or read_only in "
            "the config)." if read_only else None
        )
        self.push_screen(UpdateScreen(plan, off_reason=off_reason),
                         callback=self._update_confirmed)

    def _update_confirmed(self, plan: UpdatePlan | None) -> None:
        if plan is not None:
            self.start_update(plan)

    def start_update(self, plan: UpdatePlan) -> None:
        if self.session is None or self.options.effective_read_only or not plan.rows:
            return  # the dialog offers no Update button then; this is the second lock
        epoch = self.epoch

        def on_event(update: UpdateRow) -> None:
            self.post_message(UpdateRowChanged(update, time.monotonic(), epoch))

        engine = UpdateEngine(
            self.session,
            UpdatePlan(plan.rows),  # the skipped ones were shown in the dialog, not run
            concurrency=self.options.config.update_concurrency,
            timing=self.options.update_timing,
            on_event=on_event,
            log=DeployLog(self.options.log_path),
        )
        self.update_engines.append(engine)
        self.run_worker(
            self._run_engine(
                engine, "The CapRover update", lambda error: UpdateEnded(engine, epoch, error)
            ),
            group="caprover-update",
            exit_on_error=False,
        )
        self.fleet_screen.flush(force_header=True)

    def on_update_row_changed(self, message: UpdateRowChanged) -> None:
        if message.epoch == self.epoch:
            self.fleet.apply_update(message.update, message.at)

    def on_update_ended(self, message: UpdateEnded) -> None:
        engine = message.engine
        if engine in self.update_engines:
            self.update_engines.remove(engine)
        if message.error:
            self.notify(message.error, severity="error", markup=False)
        results = engine.final_results()
        done = [row.instance for row in results if row.state is UpdateState.DONE]
        failed = [row for row in results if row.state is not UpdateState.DONE]
        if done:
            self.notify(f"CapRover updated on {', '.join(done)}.", markup=False)
        for row in failed:
            self.notify(f"CapRover update on {row.instance}: {row.state}"
                        + (f": {row.error}" if row.error else ""),
                        severity="error", markup=False, timeout=12)
        if message.epoch == self.epoch:
            self.start_audit([row.instance for row in engine.plan.rows])
        if self._lock_pending and not self.running_engines:
            self.lock()

    @property
    def running_engines(self) -> bool:
        return bool(self.engines or self.update_engines)

    # -- the 4 Hz flush --------------------------------------------------------------------

    def _flush_fleet(self) -> None:
        self._flush_pending = False
        try:
            fleet_screen = self.fleet_screen
        except LookupError:
            return
        changes = fleet_screen.flush()
        self._last_flush = time.monotonic()
        top = self.screen
        if isinstance(top, DetailScreen) and (
            top.key in changes.cells or changes.structure
        ):
            self._show_detail(top)

    # -- idle lock -------------------------------------------------------------------------

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, (events.Key, events.MouseDown)):
            self._last_input = self.clock()
            self._lock_pending = False
        await super().on_event(event)

    def _check_idle(self) -> None:
        if self.session is None or self._lock_pending:
            return
        if self.clock() - self._last_input >= self.options.lock_after_minutes * 60:
            self.lock()

    def lock(self) -> None:
        """Drop every credential and everything the servers said; ask for the vault again.

        Running deploys finish first (they hold tokens they need): the lock waits for them.
        """
        if self.running_engines:
            if not self._lock_pending:
                self._lock_pending = True
                self.notify("Idle: locking when the running deploys and updates end.",
                            markup=False)
            return
        self._lock_pending = False
        self.epoch += 1
        self.workers.cancel_group(self, "audit")
        self.auditing = 0
        session, self.session = self.session, None
        self.instances = []
        if session is not None:
            session.forget_credentials()
            self.run_worker(session.aclose(), group="close", exit_on_error=False)
        self.fleet.clear()
        while len(self.screen_stack) > 1 and not isinstance(self.screen, FleetScreen):
            self.pop_screen()
        self.fleet_screen.reset()
        minutes = self.options.lock_after_minutes
        self._ask_unlock(
            notice=f"Locked after {minutes:g} minute(s) without a key press. Unlock again."
        )

    # -- quitting --------------------------------------------------------------------------

    async def action_quit(self) -> None:
        if not self.running_engines:
            self.exit()
            return
        deploying = sum(
            1 for engine in self.engines for row in engine.plan.rows
            if row.key not in engine.results
        )
        updating = [
            row.instance for engine in self.update_engines for row in engine.plan.rows
            if row.instance not in engine.results
        ]
        body = Text()
        if deploying:
            body.append(f"{deploying} row(s) are still deploying.\n", style="bold")
        if updating:
            body.append(f"CapRover is updating on {', '.join(updating)}.\n", style="bold")
        body.append("\n")
        body.append(
            "Quitting cancels what is still queued. Builds and CapRover updates already sent "
            "keep running on their servers; the deploy log records every row as cancelled or "
            "finished."
        )
        title = "Quit while deploying?" if deploying else "Quit while CapRover updates?"
        self.push_screen(
            ConfirmScreen(title, body, "Quit anyway", "Keep running", id="confirm-quit"),
            callback=self._quit_confirmed,
        )

    def _quit_confirmed(self, answer: bool | None) -> None:
        if answer:
            for engine in self.engines:
                engine.cancel()
            for update_engine in self.update_engines:
                update_engine.cancel()
            self.exit()

    # -- palette ---------------------------------------------------------------------------

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield from fleet_commands(self, screen)

    # -- crashes: never print locals (keepass-and-security.md §0.7) ------------------------

    def _handle_exception(self, error: Exception) -> None:
        # Same as Textual 8.2.8's, minus the ``__rich__`` path, which could render anything.
        self._return_code = 1
        if self._exception is None:
            self._exception = error
            self._exception_event.set()
        self._crash = error
        self._fatal_error()

    def _fatal_error(self) -> None:
        self.bell()
        error = getattr(self, "_crash", None) or sys.exc_info()[1]
        if isinstance(error, WorkerFailed) and isinstance(error.error, BaseException):
            error = error.error  # the worker's own exception carries the traceback
        if error is not None:
            report = crash_report(type(error), error, error.__traceback__)
        else:
            report = crash_report()
        self._exit_renderables.append(report)
        self._close_messages_no_wait()


def make_app(options: TuiOptions) -> GcTuiApp:
    """The one constructor the CLI, the demo, the tests and the screenshots use."""
    return GcTuiApp(options)


__all__ = ["GcTuiApp", "make_app"]
