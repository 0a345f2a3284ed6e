"""The fleet table's shortcuts (shared cells, cached cut cells, rebuilding only changed rows,
prompt flushes) change nothing the operator sees: each is compared with the plain path it
replaces. Server text stays inert all the way to the screen. The cursor follows its row."""

from __future__ import annotations

import pytest
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.app import App, ComposeResult
from textual.strip import Strip

from gc_tui.core.drift import Drift, DriftState
from gc_tui.core.engine import RowState
from gc_tui.core.model import InstanceAudit, InstanceStatus
from gc_tui.tui.filter import parse_filter
from gc_tui.tui.fleet_model import FleetModel
from gc_tui.tui.fleet_rows import FleetRow, Tone
from gc_tui.tui.fleet_sort import SortColumn, SortOrder
from gc_tui.tui.widgets import fleet_cells
from gc_tui.tui.widgets.fleet_cells import PLAIN_STYLES, CellMaker, CellStyles, render_row
from gc_tui.tui.widgets.fleet_paint import Painter, fit
from gc_tui.tui.widgets.fleet_table import FleetTable
from tests.tui.canned import audit, canned_audits, deploy_event, load_canned, update_event

HOSTILE = "x[/bold] [red]\x1b]0;title\x07y\u202e"
STYLES = CellStyles(
    tones={tone: Style(color=f"color({index + 1})", bold=index % 2 == 0)
           for index, tone in enumerate(Tone)},
    manual_image=Style(italic=True), muted=Style(dim=True), mark=Style(bold=True),
    update_available=Style(color="yellow"),
)


def drift_of(app_name: str, image: str | None) -> Drift | None:
    if app_name.startswith("explorer") or "[" in app_name:
        return Drift(DriftState.STALE, None, "")
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
        model.apply_run_event(deploy_event(key, states[index % len(states)], started_at=1.0,
                                           at=2.0, error="boom [/x]"), "repo/x:1")
    model.apply_run_event(update_event(keys[0].partition("/")[0], RowState.RESTARTING, at=3.0),
                          "caprover/caprover:1.15.3")
    model.set_marks(keys[1::4], True)
    return model


def same_text(a: Text, b: Text) -> bool:
    return (a.plain, a.style, a.spans) == (b.plain, b.style, b.spans)


def cells_of(strip: Strip) -> list[tuple[str, Style | None]]:
    """One (character, style) per character: segment boundaries do not matter on screen."""
    return [(char, segment.style) for segment in strip for char in segment.text]


def flush(table: FleetTable, model: FleetModel, now: float) -> None:
    """As FleetScreen.flush: what changed, and the deploying rows (their elapsed time)."""
    changes = model.take_changes()
    changes.cells.update(model.deploying_keys())
    table.sync(model, changes, now)


class Host(App[None]):
    def __init__(self, with_drift: bool = False) -> None:
        super().__init__()
        self.with_drift = with_drift

    def compose(self) -> ComposeResult:
        yield FleetTable(with_drift=self.with_drift)


class TestSharedCells:
    """CellMaker's shared cells are the cells render_row builds, for every kind of row."""

    def test_cells_equal_render_row(self) -> None:
        model = busy_model()
        for styles in (PLAIN_STYLES, STYLES):
            for with_drift in (False, True):
                maker = CellMaker(styles, with_drift)
                for now in (2.5, 150.0, 150.0):  # the second 150.0 reads the shared cells
                    for key in model.ordered_keys():
                        row, marked = model.rows[key], key in model.marks
                        expected = render_row(row, marked, now, styles, with_drift)
                        got = maker.row(row, marked, now)
                        assert len(got) == len(expected)
                        assert all(same_text(a, b) for a, b in zip(got, expected, strict=True))

    def test_widest_is_the_widest_cell_built(self) -> None:
        model = busy_model()
        maker = CellMaker(PLAIN_STYLES, True)
        built = [maker.row(model.rows[key], False, 150.0) for key in model.ordered_keys()]
        for index, key in enumerate(maker.keys[1:], start=1):
            assert maker.widest.get(key, 0) == max(cells[index].cell_len for cells in built)

    def test_hostile_text_stays_inert(self) -> None:
        model = busy_model()
        maker = CellMaker(STYLES, True)
        cells = maker.row(model.rows[f"hostile/{HOSTILE}"], False, 0.0)
        shown = "".join(cell.plain for cell in cells)
        assert "[/bold]" in shown and "\x1b" not in shown and "\u202e" not in shown
        assert all(not cell.spans or cell is cells[7] for cell in cells)  # no markup parsed


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


class TestCutCells:
    """A cell cut to its column keeps the end of repositories and tags, the start of the rest."""

    def test_fit(self) -> None:
        from rich.text import Text

        tag = Text("6.1.0_20260803-1652", style="bold")
        assert fit(tag, 30) is tag
        assert fit(tag, 10, keep_end=True).plain == "…0803-1652"
        assert fit(tag, 10).plain == "6.1.0_202…"
        assert fit(tag, 10, keep_end=True).style == "bold"
        # NEWEST's sign is the upstream state: it survives the cut, the tag's start does not.
        newest = Text("↑ 6.1.0_20260818-0907")
        assert fit(newest, 18, keep_end=True).plain == "↑ …0_20260818-0907"
        assert fit(newest, 18, keep_end=True).cell_len == 18
        wide = Text("日本語のアプリ")  # two cells a character
        assert fit(wide, 7, keep_end=True).cell_len <= 7
        assert fit(wide, 7).cell_len <= 7


class TestTableDrawing:
    """What the table draws equals a plain drawing of the same cells: Rich renders each cell
    cut to its width, the row's styles go beneath, the cursor's on top."""

    async def test_lines_equal_a_plain_drawing_of_the_cells(self) -> None:
        from gc_tui.settings import Settings
        from gc_tui.tui.app import make_app

        app = make_app(Settings())
        async with app.run_test(size=(150, 50)) as pilot:
            await load_canned(pilot, [*canned_audits(), audit(
                "hostile", {HOSTILE: f"repo/{HOSTILE}:{HOSTILE}", "plain": "nginx"})])
            model = app.fleet
            keys = [key for key in model.ordered_keys() if model.markable(key)]
            model.set_marks(keys[:3], True)
            model.apply_run_event(deploy_event(keys[4], RowState.BUILDING, started_at=1.0, at=1.0))
            model.set_filter(parse_filter("hostile|staging|fernridge|graniteflats"))
            app.fleet_screen.flush()
            await pilot.pause()
            table = app.fleet_screen.table
            table.move_cursor(2)
            await pilot.pause()
            paint, painter = table._paint, table._painter
            assert paint is not None and painter is not None
            layout = painter.layout
            width = table.scrollable_content_region.width
            console = app.console
            for line, key in enumerate(table.visible_keys()):
                drawn = table.render_line(line + 1)
                row = model.rows[key]
                marked = key in model.marks
                cells = render_row(row, marked, table._now, table._styles, True)
                base = paint.base + paint.marked if marked else paint.base
                expected: list[tuple[str, Style | None]] = []
                for number, placed in enumerate(layout):
                    column = placed.column
                    index = [c.key for c in table._columns].index(column.key)
                    text = fit(cells[index], placed.width,
                               column.keep_end and row.kind == "app")
                    rendered = console.render_lines(
                        text, console.options.update(width=placed.width, no_wrap=True),
                        pad=True)[0]
                    segments = ([Segment(" ")] if number else []) + rendered
                    post = paint.cursor if line == 2 else None
                    expected += cells_of(Strip(Segment.apply_style(segments, base, post)))
                assert cells_of(drawn)[: len(expected)] == expected, key
                assert drawn.cell_length == width
            shown = "".join(segment.text for y in range(table.size.height)
                            for segment in table.render_line(y))
            assert "x[/bold] [red]" in shown and "\x1b" not in shown and "\u202e" not in shown

    async def test_cached_lines_equal_fresh_ones(self) -> None:
        from gc_tui.settings import Settings
        from gc_tui.tui.app import make_app

        app = make_app(Settings())
        async with app.run_test(size=(120, 40)) as pilot:
            await load_canned(pilot)
            table = app.fleet_screen.table
            for _ in range(2):  # the second pass draws from the painter's cache
                warm = [table.render_line(y) for y in range(table.size.height)]
            painter, paint = table._painter, table._paint
            assert painter is not None and paint is not None
            fresh = Painter(app.console)
            fresh.set_layout(painter.layout, [c.key for c in table._columns])
            rows = table.visible_keys()
            for line, key in enumerate(rows[: table.size.height - 1]):
                row = table._rows[key]
                expected = fresh.row(row, paint, line == table.cursor_row,
                                     table.scrollable_content_region.width)
                assert list(warm[line + 1]) == list(expected)


class TestIncrementalSync:
    """A sync rebuilds only the rows the model says changed, and ends where a fresh table
    synced from scratch would."""

    async def test_only_changed_rows_are_rebuilt(self, monkeypatch: pytest.MonkeyPatch) -> None:
        model = busy_model()
        async with Host(with_drift=True).run_test(size=(160, 40)) as pilot:
            table = pilot.app.query_one(FleetTable)
            table.sync(model, model.take_changes(), 5.0)
            built: list[str] = []
            original = CellMaker.row

            def counting(
                self: CellMaker, row: FleetRow, marked: bool, now: float
            ) -> tuple[Text, ...]:
                built.append(row.key)
                return original(self, row, marked, now)

            monkeypatch.setattr(CellMaker, "row", counting)
            key = model.visible_keys()[7]
            model.toggle_mark(key)
            table.sync(model, model.take_changes(), 5.0)
            assert built == [key]
            assert str(table.get_cell(key, "mark")) == fleet_cells.MARK_GLYPH
            await pilot.pause()

    async def test_incremental_equals_from_scratch(self) -> None:
        model = busy_model()
        async with Host(with_drift=True).run_test(size=(160, 40)) as pilot:
            table = pilot.app.query_one(FleetTable)
            flush(table, model, 5.0)
            keys = [key for key in model.ordered_keys() if model.markable(key)]
            model.set_filter(parse_filter("!status:manual"))
            flush(table, model, 6.0)
            for key in keys[::5]:
                model.apply_run_event(deploy_event(key, RowState.DONE, started_at=1.0, at=4.0))
            model.toggle_mark(keys[2])
            model.set_sort(SortOrder(SortColumn.STATUS, descending=True))
            model.set_filter(parse_filter(""))
            flush(table, model, 7.0)
            fresh = FleetTable(with_drift=True)
            await pilot.app.mount(fresh)
            flush(fresh, model, 7.0)
            assert table.visible_keys() == fresh.visible_keys() == model.visible_keys()
            for key in model.visible_keys():
                for column in table.widths:
                    assert same_text(table.get_cell(key, column), fresh.get_cell(key, column))


class TestPromptFlush:
    async def test_arriving_rows_flush_before_the_tick_and_lock_forgets_cells(self) -> None:
        from gc_tui.core.operations import AuditArrived
        from gc_tui.settings import Settings
        from gc_tui.tui.app import make_app
        from gc_tui.tui.messages import OpsMessage

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
            assert table.cached_cells() > 0
            app.lock()
            await pilot.pause()
            assert table.row_count == 0 and table.cached_cells() == 0


class TestCursor:
    """Rows arrive in the order servers answer, not the table's order (an unreachable server
    answers first). Until the operator moves the cursor it stays on the first row; after
    that it stays on the row they chose, through new rows and a new sort. A new filter that
    changes what is shown puts it on the first match."""

    async def test_the_cursor_stays_on_top_until_the_operator_moves_it(self) -> None:
        names = ["alpha", "bravo", "charlie"]
        model = FleetModel(names, None)

        def arrive(item: InstanceAudit) -> None:
            model.apply_audit(item)
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
            model.set_sort(SortOrder(SortColumn.APP, descending=True))
            table.sync(model, model.take_changes(), 0.0)
            assert table.cursor_key() == chosen

    async def test_a_new_filter_puts_the_cursor_on_the_first_match(self) -> None:
        model = busy_model()
        async with Host().run_test(size=(120, 20)) as pilot:
            table = pilot.app.query_one(FleetTable)
            table.sync(model, model.take_changes(), 0.0)
            table.move_to_key(model.visible_keys()[-1])  # scrolled to the bottom
            assert table.scroll_offset.y > 0
            model.set_filter(parse_filter("expl"))
            table.sync(model, model.take_changes(), 0.0)
            assert table.cursor_row == 0 and table.scroll_offset.y == 0
            assert table.cursor_key() == model.visible_keys()[0]
            table.move_cursor(3)
            chosen = table.cursor_key()
            model.set_filter(parse_filter("explo"))  # same rows: the cursor stays
            table.sync(model, model.take_changes(), 0.0)
            assert table.visible_keys() == model.visible_keys()
            assert table.cursor_key() == chosen

    async def test_keys_move_the_cursor_and_the_view_follows(self) -> None:
        model = busy_model()
        async with Host().run_test(size=(120, 20)) as pilot:
            table = pilot.app.query_one(FleetTable)
            table.sync(model, model.take_changes(), 0.0)
            table.focus()
            await pilot.press("pagedown", "pagedown")
            lines = table.scrollable_content_region.height - 1
            top = table.scroll_offset.y
            assert table.cursor_row > lines and top <= table.cursor_row < top + lines
            await pilot.press("end")
            assert table.cursor_key() == model.visible_keys()[-1]
            await pilot.press("home", "down", "up", "down")
            assert table.cursor_row == 1 and table.scroll_offset.y == 0

    async def test_enter_and_a_click_on_the_cursor_row_choose_it(self) -> None:
        model = busy_model()
        chosen: list[str] = []

        class Chooser(Host):
            def on_fleet_table_row_chosen(self, message: FleetTable.RowChosen) -> None:
                chosen.append(message.key)

        async with Chooser().run_test(size=(120, 20)) as pilot:
            table = pilot.app.query_one(FleetTable)
            table.sync(model, model.take_changes(), 0.0)
            table.focus()
            await pilot.press("down", "enter")
            await pilot.click(FleetTable, offset=(5, 4))  # line 4: the row at index 3
            assert table.cursor_row == 3 and chosen == [model.visible_keys()[1]]
            await pilot.click(FleetTable, offset=(5, 4))
            await pilot.pause()
            assert chosen == [model.visible_keys()[1], model.visible_keys()[3]]

    async def test_typed_filter_applies_without_enter(self) -> None:
        from gc_tui.settings import Settings
        from gc_tui.tui.app import make_app

        app = make_app(Settings())
        async with app.run_test(size=(160, 50)) as pilot:
            await load_canned(pilot)
            table = app.fleet_screen.table
            table.move_to_key(next(key for key in app.fleet.ordered_keys()[5:]
                                   if "explorer" in key))
            await pilot.press("slash", *"explorer")
            await pilot.pause()
            assert app.fleet.filter.text == "explorer"
            assert table.visible_keys() == app.fleet.visible_keys()
            assert all("explorer" in key for key in table.visible_keys())
            assert table.cursor_key() == app.fleet.visible_keys()[0]
