"""The fleet screen: summary line, filter bar, the table or the matrix, the footer.

Actions change the App's model (marks, filter) and ask for a flush; the table itself is only
written by ``flush``, which the App calls on a ~4 Hz timer, soon after rows arrive, and after
each operator action. The filter applies on each keystroke: when keys come faster than the
table is redrawn, the keystrokes waiting in the queue are applied at once.

``m`` shows the matrix instead of the table: the same model, marks and filter, drawn as one
line per instance. Only the view on screen is written by ``flush``; what the other missed
waits in a backlog (the table) or is read again whole (the matrix) when it comes back.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, cast

from textual import events, on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import Footer, Input

from gc_tui.core.plan import Plan, changed_since, skip_busy
from gc_tui.core.text import printable
from gc_tui.core.update import build_update_plan
from gc_tui.core.upstream import UpstreamState
from gc_tui.tui.actions import FLEET_ACTIONS
from gc_tui.tui.export import ExportError, write_export
from gc_tui.tui.filter import NO_FILTER, parse_filter
from gc_tui.tui.fleet_model import Changes
from gc_tui.tui.fleet_rows import FleetRow, RowKind
from gc_tui.tui.pin import ask_to_pin
from gc_tui.tui.screens.deploy import DeployScreen
from gc_tui.tui.screens.export import ExportRequest, ExportScreen
from gc_tui.tui.screens.update import UpdateScreen
from gc_tui.tui.widgets.fleet_matrix import FleetMatrix
from gc_tui.tui.widgets.fleet_table import FleetTable
from gc_tui.tui.widgets.header import FleetHeader
from gc_tui.tui.widgets.matrix_legend import MatrixLegend

if TYPE_CHECKING:
    from gc_tui.tui.app import GcTuiApp

FILTER_DEBOUNCE = 0.0  # no timer: an apply waits only for the keystrokes already queued


class FleetScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [action.binding() for action in FLEET_ACTIONS]

    def __init__(self, *, with_drift: bool = False) -> None:
        super().__init__(id="fleet-screen")
        self.with_drift = with_drift
        self._filter_pending = False
        self._table_backlog = Changes()  # what the table missed while the matrix showed

    @property
    def gc_app(self) -> GcTuiApp:
        return cast("GcTuiApp", self.app)

    @property
    def table(self) -> FleetTable:
        return self.query_one(FleetTable)

    @property
    def matrix(self) -> FleetMatrix:
        return self.query_one(FleetMatrix)

    @property
    def matrix_shown(self) -> bool:
        return self.has_class("-matrix")

    @property
    def view(self) -> FleetTable | FleetMatrix:
        """The table or the matrix, whichever is on screen."""
        return self.matrix if self.matrix_shown else self.table

    def compose(self) -> ComposeResult:
        yield FleetHeader(id="fleet-header")
        # Not select_on_focus: the focus event can come after the first letters of a burst,
        # and the next key would replace them all.
        yield Input(placeholder="filter: text, regex, instance: app: image: status:, ! negates",
                    id="filter", select_on_focus=False)
        yield FleetTable(with_drift=self.with_drift, id="fleet-table")
        yield FleetMatrix(id="fleet-matrix")
        yield MatrixLegend(id="matrix-legend")
        # ctrl+p still opens the palette (the help screen says so); its hint costs a key's room.
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one("#filter").display = False
        self.table.focus()

    # -- drawing -------------------------------------------------------------------------

    def flush(self, force_header: bool = False) -> Changes:
        """Write what changed in the model into the table; returns what was written."""
        # Quitting: the flush timer may outlive the screen's widgets.
        if not self.is_attached:
            return Changes()
        try:
            table, matrix = self.table, self.matrix
            self.query_one(FleetHeader)
        except NoMatches:
            return Changes()
        model = self.gc_app.fleet
        changes = model.take_changes()
        # Rows that are deploying show elapsed time, which changes without an event.
        changes.cells.update(model.deploying_keys())
        if self.matrix_shown:
            self._table_backlog.cells |= changes.cells
            self._table_backlog.structure |= changes.structure
            if changes.cells or changes.structure:
                matrix.sync(model, changes, time.monotonic())
                self._show_counts()
        elif changes.cells or changes.structure:
            with self.app.batch_update():
                table.sync(model, changes, time.monotonic())
        if changes.cells or changes.structure or force_header:
            self.update_header()
        return changes

    def update_header(self) -> None:
        app = self.gc_app
        self.query_one(FleetHeader).show(
            app.fleet.counts(),
            app.fleet.filter,
            auditing=app.auditing,
            read_only=app.settings.read_only,
            sort=app.fleet.sort,
        )

    def show_drift(self) -> None:
        """Targets were loaded after start (the first pin): add the drift column."""
        if not self.with_drift:
            self.with_drift = True
            self.table.enable_drift()
        self.flush(force_header=True)

    def reset(self) -> None:
        """After a lock: nothing that came from the servers stays on screen."""
        filter_input = self.query_one("#filter", Input)
        filter_input.value = ""
        filter_input.display = False
        self.flush(force_header=True)
        self.table.forget()
        self.matrix.forget()
        self.view.focus()

    # -- the cursor row and the marked rows ----------------------------------------------

    def cursor_row(self) -> FleetRow | None:
        key = self.view.cursor_key()
        return self.gc_app.fleet.rows.get(key) if key is not None else None

    def selected_rows(self) -> list[FleetRow]:
        """The marked rows, or the cursor row when nothing is marked (k9s's rule)."""
        marked = self.gc_app.fleet.marked_rows()
        if marked:
            return marked
        row = self.cursor_row()
        return [row] if row is not None and row.kind is RowKind.APP else []

    # -- filter ----------------------------------------------------------------------------

    def action_filter(self) -> None:
        filter_input = self.query_one("#filter", Input)
        filter_input.display = True
        # Now, not after the keys already queued: '/app:x' typed in one burst (a paste, an
        # SSH packet) would otherwise run a, p, p... as table keys.
        self.set_focus(filter_input)
        # The last filter stays for editing (arrows), selected so that typing replaces it.
        filter_input.select_all()

    def on_key(self, event: events.Key) -> None:
        """'/' and the text after it in one burst (an SSH packet, a paste): every key was on
        its way to the table before the focus could move, and Textual would run a, p, e...
        as the table's keys, or drop them. So '/' opens the filter here, as its key reaches
        the screen, and the letters behind it are typed into the filter."""
        filter_input = self.query_one("#filter", Input)
        if self.focused is filter_input:  # set at once; has_focus waits for the Focus event
            if event.is_printable and event.character:
                start, end = sorted(filter_input.selection)
                filter_input.replace(event.character, start, end)
                event.stop()
                event.prevent_default()
        elif event.key == "slash":
            self.action_filter()
            event.stop()
            event.prevent_default()

    def action_clear_filter(self) -> None:
        filter_input = self.query_one("#filter", Input)
        filter_input.value = ""
        filter_input.display = False
        self.gc_app.fleet.set_filter(NO_FILTER)
        self.view.focus()
        self.flush(force_header=True)

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        if not self._filter_pending:
            # After the messages already queued (more keystrokes), so a burst applies once.
            self._filter_pending = True
            self.call_later(self._apply_pending_filter)

    def _apply_pending_filter(self) -> None:
        if self._filter_pending:
            self.apply_filter()

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        self.apply_filter()
        if not event.value.strip():
            event.input.display = False
        self.view.focus()

    def apply_filter(self) -> None:
        self._filter_pending = False
        self.gc_app.fleet.set_filter(parse_filter(self.query_one("#filter", Input).value))
        self.flush(force_header=True)

    # -- marks -------------------------------------------------------------------------------

    def action_toggle_mark(self) -> None:
        key = self.view.cursor_key()
        if key is None:
            return
        self.gc_app.fleet.toggle_mark(key)
        self.flush(force_header=True)
        self.view.action_cursor_down()

    def action_mark_visible(self) -> None:
        self.gc_app.fleet.mark_visible()
        self.flush(force_header=True)

    def action_unmark_all(self) -> None:
        self.gc_app.fleet.unmark_all()
        self.flush(force_header=True)

    def action_invert_marks(self) -> None:
        self.gc_app.fleet.invert_visible()
        self.flush(force_header=True)

    def action_mark_off_target(self) -> None:
        model = self.gc_app.fleet
        if model.drift is None:
            self.app.notify("No targets file is loaded (--targets).", severity="warning",
                            markup=False)
            return
        off = [
            key
            for key in model.visible_keys()
            if (drift := model.rows[key].drift) is not None and drift.differs
        ]
        model.set_marks(off, True)
        self.flush(force_header=True)
        self.app.notify(f"Marked {len(off)} rows not on their target.", markup=False)

    def action_mark_behind(self) -> None:
        model = self.gc_app.fleet
        behind = [
            key
            for key in model.visible_keys()
            if (upstream := model.rows[key].upstream) is not None
            and upstream.state is UpstreamState.BEHIND
        ]
        model.set_marks(behind, True)
        self.flush(force_header=True)
        self.app.notify(f"Marked {len(behind)} rows behind upstream.", markup=False)

    # -- actions that open other screens -------------------------------------------------

    def action_deploy(self) -> None:
        """d: the dialog plans the deploy; confirmed, core runs it and the rows follow."""
        rows, app = self.selected_rows(), self.gc_app
        if not rows:
            app.notify("Nothing to deploy: mark rows with space (or put the cursor on an app).",
                       markup=False)
            return
        dialog = DeployScreen(rows, dict(app.fleet.audits), app.ops.plan_options(),
                              busy=app.ops.busy_instances())
        app.push_screen(dialog, callback=self._deploy_confirmed)

    def _deploy_confirmed(self, plan: Plan | None) -> None:
        if plan is None:
            return
        ops = self.gc_app.ops
        changed = changed_since(plan, self.gc_app.fleet.audits)
        if changed:
            # A run ended or an audit came in while the dialog was open: what it showed is
            # not what the servers run now, so nothing is sent on its word.
            shown = ", ".join(changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3
                                              else "")
            self.app.notify(f"Not deployed: {shown} changed while the dialog was open. "
                            "Press d again to see the plan as the servers are now.",
                            severity="warning", markup=False, timeout=12)
            return
        # Busy may have changed while the dialog was open: the same rule, once more.
        engine = ops.start_deploy(skip_busy(plan, ops.busy_instances()))
        if engine is not None:
            self.gc_app.fleet.reset_deploys(row.key for row in engine.plan.rows)
        self.flush(force_header=True)

    def action_detail(self) -> None:
        row = self.cursor_row()
        if row is not None:
            self.gc_app.open_detail(row.key)
        elif self.matrix_shown and (cursor := self.matrix.cursor) is not None and cursor[1]:
            self.app.notify(printable(f"{cursor[1]} is not on {cursor[0]}."), markup=False)

    @on(FleetTable.RowChosen, "#fleet-table")
    def _row_chosen(self, event: FleetTable.RowChosen) -> None:
        event.stop()
        self.action_detail()

    # -- sorting (k9s's habit: the model sorts, the header and the table show it) --------

    def action_sort_next(self) -> None:
        model = self.gc_app.fleet
        model.set_sort(model.sort.next_column(self.table.sortable))
        self.flush(force_header=True)

    def action_sort_reverse(self) -> None:
        model = self.gc_app.fleet
        model.set_sort(model.sort.reversed())
        self.flush(force_header=True)

    def action_refresh(self) -> None:
        self.gc_app.refresh_fleet()

    def action_retry(self) -> None:
        self.gc_app.retry_failed()

    def action_export(self) -> None:
        default = Path.cwd() / f"gc-tui-export-{time.strftime('%Y%m%d-%H%M%S')}.csv"
        count = len(self.gc_app.fleet.visible_keys())
        self.app.push_screen(ExportScreen(count, default), callback=self._export)

    def _export(self, request: ExportRequest | None) -> None:
        if request is None:
            return
        model = self.gc_app.fleet
        rows = [model.rows[key] for key in model.visible_keys()]
        try:
            count = write_export(request.path, rows, request.fmt)
        except ExportError as err:
            self.app.notify(str(err), severity="error", markup=False)
            return
        self.app.notify(f"Exported {count} rows to {request.path}", markup=False)

    def action_pin_targets(self) -> None:
        ask_to_pin(self.gc_app, self.selected_rows())

    def action_update_caprover(self) -> None:
        """U: update CapRover on the instances of the marked rows, after the dialog."""
        app = self.gc_app
        # A failed instance's own row counts too: the dialog then says why it is skipped.
        row = self.cursor_row()
        rows = app.fleet.marked_rows() or ([row] if row is not None else [])
        names = list(dict.fromkeys(row.instance for row in rows))
        if not names:
            app.notify("Nothing to update: mark rows with space (or put the cursor on one).",
                       markup=False)
            return
        read_only = app.settings.read_only
        audits = [app.fleet.audits[name] for name in names if name in app.fleet.audits]
        plan = skip_busy(build_update_plan(audits, names, read_only=read_only),
                         app.ops.busy_instances())
        off_reason = (
            "Updating CapRover is off: gc-tui runs read-only (--read-only or read_only in "
            "the config)." if read_only else None
        )
        app.push_screen(UpdateScreen(plan, off_reason=off_reason),
                        callback=self._update_confirmed)

    def _update_confirmed(self, plan: Plan | None) -> None:
        if plan is not None:
            ops = self.gc_app.ops
            ops.start_update(skip_busy(plan, ops.busy_instances()))
            self.flush(force_header=True)

    def action_help(self) -> None:
        self.gc_app.open_help()

    # -- the matrix ----------------------------------------------------------------------

    def action_toggle_matrix(self) -> None:
        """The table or the matrix; the cursor stays on its instance and app."""
        model = self.gc_app.fleet
        key = self.view.cursor_key()
        shown = not self.matrix_shown
        self.set_class(shown, "-matrix")
        now = time.monotonic()
        if shown:
            self.matrix.sync(model, Changes(structure=True), now)
            self._show_counts()
        else:
            backlog, self._table_backlog = self._table_backlog, Changes()
            with self.app.batch_update():
                self.table.sync(model, backlog, now)
        if key is not None:
            self.view.move_to_key(key)
        self.view.focus()

    def _show_counts(self) -> None:
        self.query_one(MatrixLegend).show_counts(self.matrix.shown, len(self.gc_app.fleet.marks))

    @on(FleetMatrix.CursorMoved)
    def _matrix_cursor_moved(self, event: FleetMatrix.CursorMoved) -> None:
        event.stop()
        cursor = self.matrix.cursor
        row = self.matrix.cursor_row()
        key = self.matrix.cursor_key()
        fleet_row = self.gc_app.fleet.rows.get(key) if key is not None else None
        self.query_one(MatrixLegend).show_cursor(row, cursor[1] if cursor else None, fleet_row)
