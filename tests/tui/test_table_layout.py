"""Column widths follow the terminal: instance, app and tag are never cut when there is room,
IMAGE takes what is left, and on a narrow terminal IMAGE and CAPROVER give way first
(narrower, then hidden) while INSTANCE, APP, TAG, STATUS and DRIFT stay."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult

from gc_tui.core.drift import Drift, DriftState
from gc_tui.core.model import InstanceAudit
from gc_tui.tui.fleet_model import FleetModel
from gc_tui.tui.widgets.fleet_layout import GAP, columns_for, label_width, layout
from gc_tui.tui.widgets.fleet_table import FleetTable
from tests.tui.canned import audit, canned_audits, load_canned

TITLE = "saltmarsh [prod]"  # a vault title: markup-looking, and longer than the demo's names
REPOSITORIES = ("communityfirst/superset-deployment", "guardiancr.azurecr.io/superset-docker")
TAG = "6.1.0_20260803-1652"
# What the demo fleet's cells want, plus a long vault title.
NATURAL = {"mark": 1, "instance": len(TITLE), "app": 22, "image": 46, "tag": 19,
           "newest": len("↑ 6.1.0_20260818-0907"), "status": 11, "caprover": 14, "drift": 12}
STAYING = ("mark", "instance", "app", "tag", "status")


def widths_at(
    width: int, with_drift: bool, natural: dict[str, int] = NATURAL
) -> dict[str, int]:
    return {placed.column.key: placed.width
            for placed in layout(columns_for(with_drift), natural, width)}


class TestLayout:
    """``layout`` alone: a pure function of the columns, what they want and the room."""

    @pytest.mark.parametrize("with_drift", [False, True])
    @pytest.mark.parametrize("width", range(60, 260, 7))
    def test_never_wider_than_the_terminal_and_the_stayers_stay(
        self, width: int, with_drift: bool
    ) -> None:
        widths = widths_at(width, with_drift)
        assert sum(widths.values()) + GAP * (len(widths) - 1) <= width
        staying = (*STAYING, "drift") if with_drift else STAYING
        assert set(staying) <= set(widths)

    @pytest.mark.parametrize("with_drift", [False, True])
    def test_with_room_nothing_is_cut(self, with_drift: bool) -> None:
        for width in (200, 250):
            widths = widths_at(width, with_drift)
            assert widths == {key: NATURAL[key] for key in widths}, width

    @pytest.mark.parametrize("with_drift", [False, True])
    def test_image_takes_what_is_left_up_to_what_it_wants(self, with_drift: bool) -> None:
        wanted = sum(NATURAL.values()) - (0 if with_drift else NATURAL["drift"])
        gaps = GAP * (len(columns_for(with_drift)) - 1)
        for short in range(1, 30):
            widths = widths_at(wanted + gaps - short, with_drift)
            assert widths["image"] == NATURAL["image"] - short
            assert sum(widths.values()) + gaps == wanted + gaps - short

    @pytest.mark.parametrize("with_drift", [False, True])
    def test_image_then_caprover_give_way_first(self, with_drift: bool) -> None:
        hidden_at: dict[str, int] = {}  # the widest terminal each is hidden at
        previous = widths_at(260, with_drift)
        for width in range(259, 59, -1):
            widths = widths_at(width, with_drift)
            if "image" in widths:
                assert widths["image"] <= previous["image"]
            if "caprover" in widths and widths["caprover"] < NATURAL["caprover"]:
                assert "image" not in widths or widths["image"] == 10  # IMAGE first, to its floor
            for key in ("image", "caprover"):
                if key not in widths:
                    hidden_at.setdefault(key, width)
                elif key in hidden_at:
                    raise AssertionError(f"{key} back at {width} after hiding")
            if any(widths[key] < NATURAL[key] for key in STAYING):
                assert "image" not in widths and "caprover" not in widths, width
            previous = widths
        assert hidden_at["image"] > hidden_at["caprover"]

    def test_at_80_columns(self) -> None:
        plain = widths_at(80, False)
        assert all(plain[key] >= NATURAL[key] for key in STAYING)  # nothing staying is cut
        assert "image" not in plain
        with_drift = widths_at(80, True)
        assert {"instance", "app", "tag", "status", "drift"} <= set(with_drift)
        assert with_drift["status"] >= len("unreachable")

    def test_one_outlandish_name_is_cut_first(self) -> None:
        natural = {**NATURAL, "app": 90}
        widths = widths_at(100, True, natural)
        assert widths["instance"] == NATURAL["instance"] and widths["tag"] == NATURAL["tag"]
        assert widths["app"] < 90

    def test_labels_fit_with_the_sort_mark(self) -> None:
        widths = widths_at(200, True, {})
        for column in columns_for(True):
            assert widths[column.key] >= label_width(column)


def wide_fleet() -> list[InstanceAudit]:
    return [*canned_audits(), audit(TITLE, {"superset": f"{REPOSITORIES[0]}:{TAG}",
                                            "superset-worker": f"{REPOSITORIES[1]}:{TAG}"})]


def screen_text(table: FleetTable) -> list[str]:
    return ["".join(segment.text for segment in table.render_line(y))
            for y in range(table.size.height)]


class TestTableWidths:
    """The real table, as the operator sees it at each terminal size."""

    @pytest.mark.parametrize("size", [(160, 50), (200, 50), (250, 60)])
    async def test_wide_terminals_cut_nothing_useful(self, size: tuple[int, int]) -> None:
        from gc_tui.settings import Settings
        from gc_tui.tui.app import make_app

        app = make_app(Settings())
        async with app.run_test(size=size) as pilot:
            await load_canned(pilot, wide_fleet())
            table = app.fleet_screen.table
            table.move_to_key(f"{TITLE}/superset-worker")  # the last row: both on screen
            await pilot.pause()
            lines = "\n".join(" ".join(text.split()) for text in screen_text(table))
            for app_name, repository in zip(("superset", "superset-worker"), REPOSITORIES,
                                            strict=True):
                assert f"{TITLE} {app_name} {repository} {TAG} ok" in lines, repository
            assert "superset-init-and-beat" in lines and "…" not in lines
            assert table.max_scroll_x == 0

    async def test_80_columns_keep_instance_app_tag_status(self) -> None:
        from gc_tui.settings import Settings
        from gc_tui.tui.app import make_app

        app = make_app(Settings())
        async with app.run_test(size=(80, 24)) as pilot:
            await load_canned(pilot, wide_fleet())
            table = app.fleet_screen.table
            header = screen_text(table)[0]
            assert header.split() == ["INSTANCE", "APP", "TAG", "STATUS"]
            table.move_to_key(f"{TITLE}/superset-worker")
            await pilot.pause()
            line = next(text for text in screen_text(table) if TITLE in text)
            assert " ".join(line.split()) == f"{TITLE} superset {TAG} ok"
            assert table.max_scroll_x == 0

    async def test_a_resize_lays_the_columns_out_again(self) -> None:
        from gc_tui.settings import Settings
        from gc_tui.tui.app import make_app

        app = make_app(Settings())
        async with app.run_test(size=(200, 50)) as pilot:
            await load_canned(pilot, wide_fleet())
            table = app.fleet_screen.table
            assert table.widths["image"] > len(REPOSITORIES[1])
            await pilot.resize_terminal(80, 24)
            await pilot.pause()
            assert table.widths["image"] == 0 and table.widths["app"] > 0
            assert "IMAGE" not in screen_text(table)[0]
            await pilot.resize_terminal(120, 40)
            await pilot.pause()
            assert 0 < table.widths["image"] and "IMAGE" in screen_text(table)[0]

    async def test_drift_stays_at_80_columns(self) -> None:
        model = FleetModel([a.instance.name for a in wide_fleet()],
                           lambda app, image: Drift(DriftState.OTHER_REPO, None, ""))
        for item in wide_fleet():
            model.apply_audit(item)

        class Host(App[None]):
            CSS_PATH = "../../gc_tui/tui/app.tcss"

            def compose(self) -> ComposeResult:
                yield FleetTable(with_drift=True)

        async with Host().run_test(size=(80, 24)) as pilot:
            table = pilot.app.query_one(FleetTable)
            table.sync(model, model.take_changes(), 0.0)
            await pilot.pause()
            assert screen_text(table)[0].split() == ["INSTANCE", "APP", "TAG", "STATUS",
                                                     "DRIFT"]
            assert "other-repo" in screen_text(table)[1]
