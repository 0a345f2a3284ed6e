"""The gc-tui App: an adapter between the operator and ``core.operations.FleetOperations``.

What happens to the fleet (the session, audits, runs, busy instances, the idle lock, what
quitting stops) is decided in ``FleetOperations``, which has no Textual in it. The App turns
its events into messages, applies them to the row model (``FleetModel``), and opens screens.
Data flows one way: vault -> instances -> audits -> rows; dialog -> Plan -> run events -> rows.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual import events
from textual.app import App, SystemCommand
from textual.screen import Screen
from textual.worker import WorkerFailed

from gc_tui.core.engine import Engine, RowState
from gc_tui.core.journal import JournalRun
from gc_tui.core.model import Instance
from gc_tui.core.operations import (
    AuditArrived,
    AuditEnded,
    FleetOperations,
    Locked,
    OpsEvent,
    Reconciled,
    RowChanged,
    RunEnded,
    UpstreamFound,
)
from gc_tui.core.targets import Targets
from gc_tui.core.update import UPDATE_ACTION
from gc_tui.settings import Settings, UnknownInstances
from gc_tui.tui.commands import fleet_commands
from gc_tui.tui.crash import crash_report
from gc_tui.tui.fleet_model import DriftFn, FleetModel
from gc_tui.tui.fleet_rows import FleetRow, RowKind
from gc_tui.tui.messages import OpsMessage
from gc_tui.tui.screens.confirm import ConfirmScreen
from gc_tui.tui.screens.detail import DetailScreen
from gc_tui.tui.screens.fleet import FleetScreen
from gc_tui.tui.screens.help import HelpScreen
from gc_tui.tui.screens.unlock import UnlockRequest, UnlockScreen
from gc_tui.tui.screens.unsettled import UnsettledScreen

if TYPE_CHECKING:  # the vault package loads the KDF code: not before the first frame
    from gc_tui.core.vault import UnlockedVault

FLUSH_INTERVAL = 0.25  # state changes: 4 repaints a second at most (docs/tui.md)
# Rows that arrive (audits) are drawn at once, then at most this often while more arrive.
ROWS_FLUSH_INTERVAL = 0.1
EXIT_TERMINAL_GONE = 129


class GcTuiApp(App[None]):
    CSS_PATH = Path(__file__).parent / "app.tcss"  # absolute: subclasses live elsewhere
    TITLE = "gc-tui"

    def __init__(self, settings: Settings, *, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.settings = settings
        self.clock = clock
        self.fleet = FleetModel()
        self.targets_error: str | None = None
        self.ops = FleetOperations(settings, self._post_event, targets=self._load_targets())
        self.exit_report: list[str] = []  # printed by the CLI after the screen is restored
        self._last_input = clock()
        self._auto_password = settings.password
        self._flush_pending = False
        self._last_flush = 0.0
        self._lock_noted = False

    # -- start ---------------------------------------------------------------------------

    def on_mount(self) -> None:
        self.push_screen(FleetScreen(with_drift=self.ops.targets is not None))
        self._ask_unlock(notice=self.targets_error)
        self.set_interval(FLUSH_INTERVAL, self._flush_fleet)
        lock_seconds = self.settings.lock_after_minutes * 60
        if lock_seconds > 0:
            self.set_interval(min(30.0, max(lock_seconds / 4, 0.05)), self._check_idle)
        self._watch_terminal()

    def _watch_terminal(self) -> None:
        """Leave cleanly when the SSH session drops (docs/tui.md#losing-the-terminal).

        SIGHUP usually kills the process, but not under nohup or some sudo shells, where a
        TUI without a terminal spins. What was sent keeps running on the servers; the rest
        is cancelled and journaled, and the exit code says the terminal went (129).
        """
        try:
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self.terminal_gone)
        except (NotImplementedError, RuntimeError, ValueError):
            pass  # not the main thread (tests), or no signals here
        if sys.__stdin__ is not None and sys.__stdin__.isatty():
            self.set_interval(5.0, self._check_terminal)

    def _check_terminal(self) -> None:
        if sys.__stdin__ is None or not sys.__stdin__.isatty():
            self.terminal_gone()

    def terminal_gone(self) -> None:
        self.run_worker(self._stop_and_exit(EXIT_TERMINAL_GONE), group="exit", exit_on_error=False)

    @property
    def targets(self) -> Targets | None:
        return self.ops.targets

    @property
    def targets_path(self) -> Path | None:
        return self.settings.targets_path

    def _load_targets(self) -> Targets | None:
        path = self.targets_path
        if path is None:
            return None
        from gc_tui.core.targets import load_targets

        try:
            return load_targets(path)
        except Exception as err:  # noqa: BLE001 - a bad targets file must not stop the audit
            self.targets_error = f"Targets file not loaded: {err}"
            return None

    def drift_fn(self) -> DriftFn | None:
        targets = self.ops.targets
        if targets is None:
            return None
        from gc_tui.core.drift import drift_of

        return lambda app_name, image: drift_of(app_name, image, targets)

    def _ask_unlock(self, notice: str | None = None) -> None:
        settings = self.settings
        request = UnlockRequest(
            vault=settings.vault,
            keyfile=settings.keyfile,
            group=settings.group,
            tag=settings.tag,
            allow_slow=settings.allow_slow_vault,
            hint=settings.unlock_hint,
            notice=notice,
        )
        password, self._auto_password = self._auto_password, None
        self.push_screen(UnlockScreen(request, password), callback=self._unlocked)

    def _unlocked(self, vault: UnlockedVault | None) -> None:
        if vault is None:
            return
        instances = list(vault.instances)
        config = self.settings.config
        for warning in config.unmatched_sections(instances):
            self.notify(warning, severity="warning", markup=False, timeout=10)
        from gc_tui.core.registry_config import RegistryConfigError, registry_credentials

        try:
            credentials = registry_credentials(
                config.registries, vault.entries, config.path or Path("config.toml")
            )
        except RegistryConfigError as err:
            self.notify(f"{err}; that registry is asked without credentials",
                        severity="warning", markup=False, timeout=12)
            credentials = {}
        try:
            selected = self.ops.unlocked_with(instances, credentials)
        except UnknownInstances as err:
            self.notify(str(err), severity="error", markup=False, timeout=12)
            return self._ask_unlock(notice=str(err))
        self.fleet = FleetModel([instance.name for instance in selected], self.drift_fn(),
                                targets=self.ops.targets)
        self._last_input = self.clock()
        self.fleet_screen.flush(force_header=True)
        self._offer_reconcile()

    def _offer_reconcile(self) -> None:
        """Rows an earlier run left open: say so, and offer to settle them."""
        try:
            runs = self.ops.unsettled_runs()
        except OSError as err:
            self.notify(f"The journal could not be read: {err.strerror or err}",
                        severity="warning", markup=False)
            return
        if runs:
            self.push_screen(UnsettledScreen(runs, lambda: self._reconcile(runs)))

    def _reconcile(self, runs: Sequence[JournalRun]) -> None:
        if not self.ops.start_reconcile(runs):
            self.notify("Unlock first: reconciling reads the servers.", markup=False)

    @property
    def fleet_screen(self) -> FleetScreen:
        for screen in self.screen_stack:
            if isinstance(screen, FleetScreen):
                return screen
        raise LookupError("the fleet screen is not mounted")

    # -- what the operations tell ------------------------------------------------------------

    def _post_event(self, event: OpsEvent) -> None:
        self.post_message(OpsMessage(event))

    def on_ops_message(self, message: OpsMessage) -> None:
        event = message.event
        if isinstance(event, Locked):
            self._locked(event.notice)
            return
        if not self.ops.current(event.epoch):
            return  # from before a lock: what it says is gone with the credentials
        if isinstance(event, AuditArrived):
            self.fleet.apply_audit(event.audit)
            self.flush_soon()
        elif isinstance(event, AuditEnded):
            if event.error:
                self.notify(event.error, severity="error", markup=False)
            self.fleet_screen.flush(force_header=True)
        elif isinstance(event, RowChanged):
            self.fleet.apply_run_event(event.event, event.to_image)
        elif isinstance(event, UpstreamFound):
            self.fleet.apply_lookup(event.lookup)
        elif isinstance(event, RunEnded):
            self._run_ended(event)
        elif isinstance(event, Reconciled):
            for screen in self.screen_stack:
                if isinstance(screen, UnsettledScreen):
                    screen.show_settlements(event.settlements, event.error, event.splits)

    def _run_ended(self, event: RunEnded) -> None:
        engine = event.engine
        if event.error:
            self.notify(event.error, severity="error", markup=False)
        for split in engine.splits:
            self.notify(split.message, severity="warning", markup=False, timeout=15)
        if engine.action == UPDATE_ACTION:
            results = engine.final_results()
            done = [row.instance for row in results if row.state is RowState.DONE]
            if done:
                self.notify(f"CapRover updated on {', '.join(done)}.", markup=False)
            for row in results:
                if row.state is not RowState.DONE:
                    self.notify(f"CapRover update on {row.instance}: {row.state}"
                                + (f": {row.error}" if row.error else ""),
                                severity="error", markup=False, timeout=12)
        self.fleet_screen.flush(force_header=True)

    @property
    def auditing(self) -> int:
        return self.ops.auditing

    @property
    def instances(self) -> list[Instance]:
        return self.ops.instances

    @property
    def engines(self) -> list[Engine]:
        return self.ops.engines

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

    def refresh_fleet(self) -> None:
        if not self.ops.unlocked:
            return
        if self.ops.auditing:
            self.notify("An audit is already running.", markup=False)
            return
        self.ops.start_audit(None)
        self.fleet_screen.flush(force_header=True)

    def retry_failed(self) -> None:
        """R: audit the failed instances again, and mark the rows whose deploy failed."""
        failed_instances = self.fleet.failed_instances()
        failed_rows = self.fleet.failed_deploy_keys()
        if failed_instances:
            self.ops.start_audit(failed_instances)
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

    # -- other screens -------------------------------------------------------------------

    def open_detail(self, key: str) -> None:
        self.push_screen(DetailScreen(key, self._show_detail))

    def _show_detail(self, screen: DetailScreen) -> None:
        row = self.fleet.rows.get(screen.key)
        instance = None
        if row is not None and self.ops.session is not None:
            instance = self.ops.session.instances.get(row.instance)
        screen.show(row, instance, time.monotonic(), self._split_groups_of(row))

    def _split_groups_of(self, row: FleetRow | None) -> list[str]:
        """The row's service groups that run more than one image on its instance."""
        if row is None or row.kind is not RowKind.APP:
            return []
        audit = self.fleet.audits.get(row.instance)
        if audit is None or not audit.ok:
            return []
        from gc_tui.core.groups import split_groups

        extra = self.ops.targets.groups if self.ops.targets is not None else {}
        splits = split_groups(audit.apps, extra_groups=extra)
        return [
            split.detail for split in splits
            if any(member == row.app_name for member, _ in split.members)
        ]

    def open_help(self) -> None:
        self.push_screen(HelpScreen(id="help-screen"))

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
            self.ops.cancel_lock()
            self._lock_noted = False
        await super().on_event(event)

    def _check_idle(self) -> None:
        if not self.ops.unlocked or self.ops.lock_pending:
            return
        if self.clock() - self._last_input >= self.settings.lock_after_minutes * 60:
            self.lock()

    def lock(self) -> None:
        if not self.ops.lock() and not self._lock_noted:
            self._lock_noted = True
            self.notify("Idle: locking when the running deploys and updates end.", markup=False)

    def _locked(self, notice: str) -> None:
        """Nothing that came from the servers or the vault stays on screen."""
        self.fleet.clear()
        while len(self.screen_stack) > 1 and not isinstance(self.screen, FleetScreen):
            self.pop_screen()
        self.fleet_screen.reset()
        self._ask_unlock(notice=notice)

    # -- quitting --------------------------------------------------------------------------

    async def action_quit(self) -> None:
        question = self.ops.quit_question()
        if question is None:
            self.exit()
            return
        body = Text()
        if question.deploying_rows:
            body.append(f"{question.deploying_rows} row(s) are still deploying.\n", style="bold")
        if question.updating_instances:
            body.append(f"CapRover is updating on {', '.join(question.updating_instances)}.\n",
                        style="bold")
        body.append("\n")
        body.append(
            "Quitting stops what is still queued or being followed. What the servers already "
            "received goes on there; every row's state is printed and journaled, and "
            "gc-tui log --reconcile settles the rest later."
        )
        title = (
            "Quit while deploying?" if question.deploying_rows else "Quit while CapRover updates?"
        )
        self.push_screen(
            ConfirmScreen(title, body, "Quit anyway", "Keep running", id="confirm-quit"),
            callback=self._quit_confirmed,
        )

    def _quit_confirmed(self, answer: bool | None) -> None:
        if answer:
            self.run_worker(self._stop_and_exit(None), group="exit", exit_on_error=False)

    async def _stop_and_exit(self, code: int | None) -> None:
        stopped = list(self.ops.engines)
        await self.ops.stop_runs()
        lines, incomplete = self.ops.exit_report(stopped)
        self.exit_report = lines
        self.exit(return_code=code if code is not None else incomplete)

    async def on_unmount(self) -> None:
        await self.ops.aclose()

    # -- palette ---------------------------------------------------------------------------

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield from fleet_commands(self, screen)

    # -- crashes: never print locals (docs/security.md#crash-reports) ----------------------

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


def make_app(settings: Settings) -> GcTuiApp:
    """The one constructor the CLI, the demo, the tests and the screenshots use."""
    return GcTuiApp(settings)


__all__ = ["GcTuiApp", "make_app"]
