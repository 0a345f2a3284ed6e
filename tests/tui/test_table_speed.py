"""The fleet table's shortcuts (shared cells, cell rendering, prompt flushes) change nothing
the operator sees: each is compared with the slow path it replaces."""

from __future__ import annotations

from types import SimpleNamespace

from textual.widgets import DataTable

from gc_tui.core.engine import RowState
from gc_tui.tui.filter import parse_filter
from gc_tui.tui.fleet_model import FleetModel
from gc_tui.tui.widgets.fleet_table import (
    COLUMNS,
    DRIFT,
    REPOSITORY_WITH_DRIFT,
    CellMaker,
    render_row,
)
from tests.tui.conftest import canned_audits, deploy_event, load_canned, update_event
from tests.tui.test_model import audit

HOSTILE = "x[/bold] [red]\x1b]0;title\x07y\u202e"


def drift_of(app_name: str, image: str | None):  # a Drift look-alike
    if app_name.startswith("explorer") or "[" in app_name:
        return SimpleNamespace(state="behind", target=None, detail=None)
    return None


def busy_model() -> FleetModel:
    """Every kind of row: manual, failed instances, deploys, a CapRover update, drift, marks."""
    audits = canned_audits()
    audits.append(audit("hostile", {HOSTILE: f"repo/{HOSTILE}:{HOSTILE}", "plain": "nginx"}))
    model = FleetModel([a.instance.name for a in audits], drift_of)
    for item in audits:
        model.apply_audit(item)
    keys = [key for key in model.ordered_keys() if model.markable(key)]
    states = [RowState.PLANNED, RowState.BUILDING, RowState.DONE, RowState.FAILED,
              RowState.CANCELLED, RowState.SKIPPED]
    for index, key in enumerate(keys[:: 3]):
        instance, _, app_name = key.partition("/")
        model.apply_run_event(deploy_event(key, states[index % len(states)], started_at=1.0,
                                           at=2.0, error="boom [/x]"), "repo/x:1")
    model.apply_run_event(update_event(keys[0].partition("/")[0], RowState.RESTARTING, at=3.0),
                          "caprover/caprover:1.15.3")
    model.set_marks(keys[1::4], True)
    return model


def widths(with_drift: bool) -> dict[str, int]:
    found = {column.key: column.width for column in COLUMNS}
    if with_drift:
        found["repository"] = REPOSITORY_WITH_DRIFT
        found[DRIFT.key] = DRIFT.width
    return found


def same_text(a, b) -> bool:
    return (a.plain, a.style, a.spans, a.no_wrap, a.overflow, a.end) == (
        b.plain, b.style, b.spans, b.no_wrap, b.overflow, b.end)


class TestSharedCells:
    def test_cells_equal_render_row(self) -> None:
        model = busy_model()
        for with_drift in (False, True):
            maker = CellMaker(widths(with_drift), with_drift)
            for now in (2.5, 150.0, 150.0):  # the second 150.0 reads the shared cells
                for key in model.ordered_keys():
                    row, marked = model.rows[key], key in model.marks
                    expected = render_row(row, marked, now, widths(with_drift), with_drift)
                    got = maker.row(row, marked, now)
                    assert len(got) == len(expected)
                    assert all(same_text(a, b) for a, b in zip(got, expected, strict=True)), key

    def test_hostile_text_stays_inert(self) -> None:
        model = busy_model()
        maker = CellMaker(widths(True), True)
        cells = maker.row(model.rows[f"hostile/{HOSTILE}"], False, 0.0)
        shown = "".join(cell.plain for cell in cells)
        assert "[/bold]" in shown and "\x1b" not in shown and "\u202e" not in shown


class TestFilterMemo:
    def test_matches_with_and_without_the_flat_values(self) -> None:
        model = busy_model()
        for text in ("explorer", "!status:ok", "image:nginx app:^plain$", "[/bold", "o k"):
            flt = parse_filter(text)
            for _ in range(2):  # the second pass answers from the memo
                for row in model.rows.values():
                    assert flt.matches(row.search_fields, row.search_values) == (
                        parse_filter(text).matches(row.search_fields)
                    )


class TestTableDrawing:
    async def test_cells_render_as_datatable_renders_them(self) -> None:
        from gc_tui.tui.app import make_app
        from gc_tui.settings import Settings

        app = make_app(Settings())
        async with app.run_test(size=(160, 50)) as pilot:
            await load_canned(pilot)
            model = app.fleet
            keys = [key for key in model.ordered_keys() if model.markable(key)]
            model.set_marks(keys[:3], True)
            instance, _, app_name = keys[4].partition("/")
            model.apply_run_event(deploy_event(keys[4], RowState.BUILDING, started_at=1.0, at=1.0))
            app.fleet_screen.flush()
            await pilot.pause()
            table = app.fleet_screen.table
            table.move_cursor(row=2)
            await pilot.pause()
            for row_index in range(table.row_count):
                style = table._get_row_style(row_index, table.rich_style)
                for column_index, column in enumerate(table.ordered_columns):
                    width = column.get_render_width(table)
                    for cursor, hover in ((False, False), (True, False), (False, True)):
                        table._cell_render_cache.clear()
                        fast = table._render_cell(
                            row_index, column_index, style, width, cursor, hover)
                        table._cell_render_cache.clear()
                        slow = DataTable._render_cell(
                            table, row_index, column_index, style, width, cursor, hover)
                        assert fast == slow, (row_index, column_index, cursor, hover)

    async def test_typed_filter_applies_without_enter_and_keeps_the_cursor(self) -> None:
        from gc_tui.tui.app import make_app
        from gc_tui.settings import Settings

        app = make_app(Settings())
        async with app.run_test(size=(160, 50)) as pilot:
            await load_canned(pilot)
            table = app.fleet_screen.table
            target = next(key for key in app.fleet.ordered_keys()[5:] if "explorer" in key)
            table.move_to_key(target)
            await pilot.press("slash", *"explorer")
            await pilot.pause()
            assert app.fleet.filter.text == "explorer"
            assert table.visible_keys() == app.fleet.visible_keys()
            assert all("explorer" in key for key in table.visible_keys())
            assert table.cursor_key() == target
            await pilot.press("backspace", "backspace", "backspace", "backspace")
            await pilot.pause()
            assert app.fleet.filter.text == "expl"
            assert table.visible_keys() == app.fleet.visible_keys()
            assert table.cursor_key() == target

    async def test_arriving_rows_flush_before_the_tick_and_lock_forgets_cells(self) -> None:
        from gc_tui.tui.app import make_app
        from gc_tui.core.operations import AuditArrived
        from gc_tui.tui.messages import OpsMessage
        from gc_tui.settings import Settings

        app = make_app(Settings())
        async with app.run_test(size=(160, 50)) as pilot:
            await load_canned(pilot, [])
            table = app.fleet_screen.table
            app._last_flush = 0.0  # long ago: the next rows go out at once
            first = canned_audits()[0]
            app.on_ops_message(OpsMessage(AuditArrived(first, app.ops.epoch)))
            assert app._flush_pending
            await pilot.pause()
            assert not app._flush_pending
            assert table.row_count == len(app.fleet.visible_keys()) > 0
            await load_canned(pilot)
            assert table._maker._texts and table._cell_lines
            app.lock()
            await pilot.pause()
            assert table.row_count == 0
            assert not table._maker._texts and not table._cell_lines


class TestCursorWhileRowsArrive:
    """Rows arrive in the order servers answer, not the table's order (an unreachable server
    answers first). Until the operator moves the cursor it stays on the first row; after
    that it stays on the row they chose."""

    async def test_the_cursor_stays_on_top_until_the_operator_moves_it(self) -> None:
        from textual.app import App, ComposeResult

        from gc_tui.core.model import InstanceStatus
        from gc_tui.tui.widgets.fleet_table import FleetTable

        names = ["alpha", "bravo", "charlie"]
        model = FleetModel(names, None)

        class Host(App[None]):
            def compose(self) -> ComposeResult:
                yield FleetTable(with_drift=False)

        def arrive(item: object) -> None:
            model.apply_audit(item)  # type: ignore[arg-type]
            table.sync(model, model.take_changes(), 0.0)

        async with Host().run_test() as pilot:
            table = pilot.app.query_one(FleetTable)
            arrive(audit("charlie", {}, InstanceStatus.UNREACHABLE))
            arrive(audit("bravo", {"web": "nginx:1", "db": "postgres:16"}))
            arrive(audit("alpha", {"web": "nginx:1"}))
            assert table.cursor_row == 0
            assert table.cursor_key() == model.visible_keys()[0] == "alpha/web"

            table.move_to_key("bravo/web")  # as the arrow keys do
            await pilot.press("down")
            chosen = table.cursor_key()
            assert chosen != "bravo/web"
            arrive(audit("alpha", {"web": "nginx:1", "api": "node:22"}))  # a row above
            assert table.cursor_key() == chosen
