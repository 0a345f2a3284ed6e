"""The gc-tui App: owns the session, the row model and every worker; screens only draw.

Data flows one way: vault -> instances -> audit_stream -> AuditArrived -> model -> table, and
deploy dialog -> Plan -> DeployEngine -> DeployRowChanged -> model -> table. Workers never
touch widgets; they post messages and the handlers below change state.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from rich.text import Text
from textual import events
from textual.app import App, SystemCommand
from textual.screen import Screen
from textual.worker import WorkerFailed

from gc_tui.core.audit import audit_stream
from gc_tui.core.deploy import DeployEngine, RowUpdate
from gc_tui.core.deploylog import DeployLog
from gc_tui.core.model import Instance
from gc_tui.core.plan import Plan, PlanOptions
from gc_tui.core.session import FleetSession
from gc_tui.tui.commands import fleet_commands
from gc_tui.tui.crash import crash_report
from gc_tui.tui.fleet_model import DriftFn, FleetModel, FleetRow
from gc_tui.tui.messages import AuditArrived, AuditEnded, DeployEnded, DeployRowChanged
from gc_tui.tui.options import TuiOptions
from gc_tui.tui.screens.confirm import ConfirmScreen
from gc_tui.tui.screens.deploy import DeployScreen
from gc_tui.tui.screens.detail import DetailScreen
from gc_tui.tui.screens.export import ExportRequest, ExportScreen
from gc_tui.tui.screens.fleet import FleetScreen
from gc_tui.tui.screens.help import HelpScreen
from gc_tui.tui.screens.unlock import UnlockRequest, UnlockScreen

FLUSH_INTERVAL = 0.25  # 4 repaints a second at most (tui-notes.md §3.2)


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
        self.drift_fn: DriftFn | None = None
        self.targets_error: str | None = None
        self._last_input = clock()
        self._lock_pending = False
        self._auto_password = options.password

    # -- start ---------------------------------------------------------------------------

    def on_mount(self) -> None:
        self.drift_fn = self._load_targets()
        self.push_screen(FleetScreen(with_drift=self.drift_fn is not None))
        self._ask_unlock(notice=self.targets_error)
        self.set_interval(FLUSH_INTERVAL, self._flush)
        lock_seconds = self.options.lock_after_minutes * 60
        if lock_seconds > 0:
            self.set_interval(min(30.0, max(lock_seconds / 4, 0.05)), self._check_idle)

    def _load_targets(self) -> DriftFn | None:
        path = self.options.targets_path or self.options.config.targets
        if path is None:
            return None
        try:
            from gc_tui.core.drift import drift_of
            from gc_tui.core.targets import load_targets

            targets = load_targets(path)
        except Exception as err:  # noqa: BLE001 - a bad targets file must not stop the audit
            self.targets_error = f"Targets file not loaded: {err}"
            return None
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
        return PlanOptions(
            read_only=self.options.effective_read_only,
            hold_repositories=self.options.config.hold_repositories,
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
                         initial_image=initial_image),
            callback=self._deploy_confirmed,
        )

    def _deploy_confirmed(self, plan: Plan | None) -> None:
        if plan is not None:
            self.start_deploy(plan)

    def start_deploy(self, plan: Plan) -> None:
        if self.session is None or self.options.effective_read_only:
            return  # the dialog offers no Deploy button then; this is the second lock
        to_images = {row.key: row.to_image for row in plan.rows}
        to_images.update({row.key: row.to_image for row in plan.skipped})
        epoch = self.epoch

        def on_event(update: RowUpdate) -> None:
            self.post_message(DeployRowChanged(update, to_images.get(update.key), epoch))

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
        self.run_worker(self._deploy(engine, epoch), group="deploy", exit_on_error=False)
        self.fleet_screen.flush(force_header=True)

    async def _deploy(self, engine: DeployEngine, epoch: int) -> None:
        error: str | None = None
        try:
            await engine.run()
        except Exception as err:  # noqa: BLE001 - the rows say what happened; the type only
            error = f"The deploy stopped: {type(err).__name__}"
        finally:
            self.post_message(DeployEnded(engine, epoch, error))

    def on_deploy_row_changed(self, message: DeployRowChanged) -> None:
        if message.epoch == self.epoch:
            self.fleet.apply_deploy(message.update, message.to_image)

    def on_deploy_ended(self, message: DeployEnded) -> None:
        if message.engine in self.engines:
            self.engines.remove(message.engine)
        if message.error:
            self.notify(message.error, severity="error", markup=False)
        if message.epoch == self.epoch:
            # Re-read what the servers run now, so image and tag show the truth.
            self.start_audit(list(message.engine.plan.instances))
        if self._lock_pending and not self.engines:
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
        screen.show(row, url, time.monotonic())

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

    def pin_targets(self, rows: Sequence[FleetRow]) -> None:
        # Phase 2 hook: core.targets.plan_pin + save_targets behind a ConfirmScreen.
        self.notify("Pinning targets from the TUI is not available yet; use the CLI.",
                    severity="warning", markup=False)

    def update_caprover(self, rows: Sequence[FleetRow]) -> None:
        # Phase 2 hook: core.update.build_update_plan + UpdateEngine behind a ConfirmScreen
        # listing each instance's from -> to and the restart warning.
        self.notify("Updating CapRover from the TUI is not available yet; use the CLI.",
                    severity="warning", markup=False)

    # -- the 4 Hz flush --------------------------------------------------------------------

    def _flush(self) -> None:
        try:
            fleet_screen = self.fleet_screen
        except LookupError:
            return
        changes = fleet_screen.flush()
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
        if self.engines:
            if not self._lock_pending:
                self._lock_pending = True
                self.notify("Idle: locking when the running deploys end.", markup=False)
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
        running = sum(
            1 for engine in self.engines for row in engine.plan.rows
            if row.key not in engine.results
        )
        if not self.engines:
            self.exit()
            return
        body = Text()
        body.append(f"{running} row(s) are still deploying.\n\n", style="bold")
        body.append(
            "Quitting cancels the queued rows. Builds already sent keep running on their "
            "servers; the deploy log records every row as cancelled or finished."
        )
        self.push_screen(
            ConfirmScreen("Quit while deploying?", body, "Quit anyway", "Keep running",
                          id="confirm-quit"),
            callback=self._quit_confirmed,
        )

    def _quit_confirmed(self, answer: bool | None) -> None:
        if answer:
            for engine in self.engines:
                engine.cancel()
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
