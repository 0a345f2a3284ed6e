"""Sorting by column, k9s's way: the model sorts, without Textual; the default stays the
vault's order, then the app's."""

from __future__ import annotations

import pytest

from gc_tui.core.engine import RowState
from gc_tui.core.model import InstanceStatus
from gc_tui.tui.filter import parse_filter
from gc_tui.tui.fleet_model import FleetModel
from gc_tui.tui.fleet_rows import instance_row_key
from gc_tui.tui.fleet_sort import DEFAULT_SORT, SortColumn, SortOrder
from tests.tui.canned import audit, deploy_event


def fleet() -> FleetModel:
    """Three instances in vault order charlie, alpha, bravo (not alphabetical)."""
    model = FleetModel(["charlie", "alpha", "bravo"])
    model.apply_audit(audit("charlie", {"web": "nginx:1.9.0", "api": "node:22"}))
    model.apply_audit(audit("alpha", {"web": "nginx:1.13.1", "db": "postgres:16"}))
    model.apply_audit(audit("bravo", {}, InstanceStatus.UNREACHABLE))
    model.take_changes()
    return model


class TestSortOrder:
    """The default order is the vault's, then the app's; a column sort keeps it for ties."""

    def test_default_is_vault_order_then_app(self) -> None:
        assert fleet().visible_keys() == [
            "charlie/api", "charlie/web", "alpha/db", "alpha/web", instance_row_key("bravo")]

    @pytest.mark.parametrize(("order", "expected"), [
        (SortOrder(SortColumn.INSTANCE),
         ["alpha/db", "alpha/web", instance_row_key("bravo"), "charlie/api", "charlie/web"]),
        (SortOrder(SortColumn.INSTANCE, descending=True),
         ["charlie/api", "charlie/web", instance_row_key("bravo"), "alpha/db", "alpha/web"]),
        # ties (two "web") keep the default order, either way
        (SortOrder(SortColumn.APP),
         [instance_row_key("bravo"), "charlie/api", "alpha/db", "charlie/web", "alpha/web"]),
        (SortOrder(SortColumn.APP, descending=True),
         ["charlie/web", "alpha/web", "alpha/db", "charlie/api", instance_row_key("bravo")]),
        # tags compare as numbers: 1.9.0 before 1.13.1 before 16
        (SortOrder(SortColumn.TAG),
         [instance_row_key("bravo"), "charlie/web", "alpha/web", "alpha/db", "charlie/api"]),
        # the urgent states first: the unreachable instance heads the list
        (SortOrder(SortColumn.STATUS),
         [instance_row_key("bravo"), "charlie/api", "charlie/web", "alpha/db", "alpha/web"]),
        (SortOrder(None, descending=True),
         [instance_row_key("bravo"), "alpha/web", "alpha/db", "charlie/web", "charlie/api"]),
    ])
    def test_column_and_direction(self, order: SortOrder, expected: list[str]) -> None:
        model = fleet()
        model.set_sort(order)
        assert model.visible_keys() == expected
        assert model.take_changes().structure

    def test_the_filter_applies_to_the_sorted_rows(self) -> None:
        model = fleet()
        model.set_sort(SortOrder(SortColumn.INSTANCE, descending=True))
        model.set_filter(parse_filter("app:web"))
        assert model.visible_keys() == ["charlie/web", "alpha/web"]

    def test_a_new_state_moves_the_row_at_the_next_flush(self) -> None:
        model = fleet()
        model.set_sort(SortOrder(SortColumn.STATUS))
        model.take_changes()
        assert model.visible_keys()[0] == instance_row_key("bravo")
        model.apply_run_event(deploy_event("alpha/web", RowState.FAILED, at=1.0))
        assert model.visible_keys()[0] == instance_row_key("bravo")  # not before the flush
        model.take_changes()  # the flush: sorted again, once
        assert model.visible_keys()[:2] == ["alpha/web", instance_row_key("bravo")]

    def test_same_order_changes_nothing(self) -> None:
        model = fleet()
        model.set_sort(DEFAULT_SORT)
        assert not model.take_changes().structure


class TestCycling:
    """``s`` walks the columns the table has, then back to the default; ``S`` reverses."""

    COLUMNS = (SortColumn.INSTANCE, SortColumn.APP, SortColumn.STATUS)

    def test_next_column_cycles_back_to_the_default(self) -> None:
        order = DEFAULT_SORT
        seen = []
        for _ in range(4):
            order = order.next_column(self.COLUMNS)
            seen.append(order.column)
        assert seen == [SortColumn.INSTANCE, SortColumn.APP, SortColumn.STATUS, None]

    def test_next_column_starts_ascending(self) -> None:
        order = SortOrder(SortColumn.INSTANCE, descending=True).next_column(self.COLUMNS)
        assert order == SortOrder(SortColumn.APP)

    def test_a_column_the_table_lacks_starts_over(self) -> None:
        order = SortOrder(SortColumn.DRIFT).next_column(self.COLUMNS)
        assert order == SortOrder(SortColumn.INSTANCE)

    def test_reversed_flips_only_the_direction(self) -> None:
        order = SortOrder(SortColumn.APP)
        assert order.reversed() == SortOrder(SortColumn.APP, descending=True)
        assert order.reversed().reversed() == order


class TestSortKeys:
    """s and S sort the table as k9s does; the table's header and the summary line say how,
    and the cursor keeps its row."""

    async def test_s_cycles_the_columns_and_shift_s_reverses(self) -> None:
        from textual.widgets import Static

        from gc_tui.settings import Settings
        from gc_tui.tui.app import make_app
        from tests.tui.canned import load_canned

        app = make_app(Settings())
        async with app.run_test(size=(160, 50)) as pilot:
            await load_canned(pilot)
            table = app.fleet_screen.table
            table.move_to_key("emberfalls/redis")

            def header() -> str:
                return "".join(segment.text for segment in table.render_line(0))

            def summary() -> str:
                return str(app.screen.query_one("#fleet-header", Static).render())

            assert "↑" not in header() and "sort:" not in summary()
            await pilot.press("s")
            assert app.fleet.sort == SortOrder(SortColumn.INSTANCE)
            assert "INSTANCE ↑" in header() and "sort: instance ↑" in summary()
            assert table.visible_keys() == app.fleet.visible_keys()
            assert table.visible_keys()[0].startswith("alderbrook/")
            assert table.cursor_key() == "emberfalls/redis"
            await pilot.press("s", "S")
            assert app.fleet.sort == SortOrder(SortColumn.APP, descending=True)
            assert "APP ↓" in header() and "INSTANCE ↑" not in header()
            assert "sort: app ↓" in summary()
            assert table.visible_keys()[0].endswith("/windmill-worker-native")
            assert table.cursor_key() == "emberfalls/redis"
            for _ in table.sortable[1:]:
                await pilot.press("s")
            assert app.fleet.sort == DEFAULT_SORT  # after the last column, the vault's order
            assert "↑" not in header() and "↓" not in header() and "sort:" not in summary()

    def test_the_keys_are_in_the_help_and_clash_with_nothing(self) -> None:
        from gc_tui.tui.actions import FLEET_ACTIONS

        keys = [action.key for action in FLEET_ACTIONS]
        assert "s" in keys and "S" in keys and len(keys) == len(set(keys))
