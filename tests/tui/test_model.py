"""The row model, the filter and the table's by-key sync, without servers."""

from __future__ import annotations

import pytest

from gc_tui.core.engine import RowState
from gc_tui.core.model import AppInfo, Instance, InstanceAudit, InstanceStatus, VersionInfo
from gc_tui.tui.filter import Field, parse_filter
from gc_tui.tui.fleet_model import FleetModel
from gc_tui.tui.fleet_rows import RowKind, instance_row_key
from gc_tui.tui.widgets.fleet_table import FleetTable
from tests.tui.canned import audit, deploy_event, load_canned, update_event


class TestFilterParsing:
    """Only known field names are prefixes; a bad regex is plain text, never an error."""

    @pytest.mark.parametrize(("text", "field", "negate", "literal"), [
        ("app:^web$", Field.APP, False, False),
        ("!status:manual", Field.STATUS, True, False),
        ("postgres:15", None, False, False),
        ("image:repo:[/latest", Field.IMAGE, False, True),
        ("[bold", None, False, True),
    ])
    def test_terms(self, text: str, field: Field | None, negate: bool, literal: bool) -> None:
        (term,) = parse_filter(text).terms
        assert (term.field, term.negate, term.literal) == (field, negate, literal)

    def test_empty_terms_are_ignored(self) -> None:
        assert not parse_filter("  ! status: ").active


class TestModel:
    def test_marks_and_deploy_state_survive_a_reaudit(self) -> None:
        model = FleetModel(["a"])
        model.apply_audit(audit("a", {"web": "nginx:1.25", "db": "postgres:16"}))
        model.toggle_mark("a/web")
        model.apply_run_event(deploy_event("a/web", RowState.DONE, started_at=1.0, at=3.0),
                              "nginx:1.26")
        model.apply_audit(audit("a", {"web": "nginx:1.26", "db": "postgres:16"}))
        row = model.rows["a/web"]
        assert model.marks == {"a/web"} and row.image == "nginx:1.26"
        assert row.deploy is not None and row.deploy.state is RowState.DONE
        assert row.deploy.elapsed(100.0) == 2.0  # final: frozen, not counting on

    def test_failed_instance_is_one_unmarkable_row(self) -> None:
        model = FleetModel(["a"])
        model.apply_audit(audit("a", {}, InstanceStatus.UNREACHABLE))
        (row,) = model.rows.values()
        assert row.key == instance_row_key("a") and row.kind is RowKind.INSTANCE
        model.toggle_mark(row.key)
        assert model.marks == set()

    def test_manual_rows_say_manual(self) -> None:
        model = FleetModel(["a"])
        model.apply_audit(audit("a", {"redis": "img-captain-redis:3"}))
        assert model.rows["a/redis"].status.word == "manual"
        model.set_filter(parse_filter("status:manual"))
        assert model.visible_keys() == ["a/redis"]
        model.set_filter(parse_filter("status:ok"))
        assert model.visible_keys() == []

    def test_a_later_run_s_skip_leaves_a_live_or_failed_deploy_showing(self) -> None:
        # Review (helper): a second run skipping a busy row overwrote the first run's
        # "building" with "skipped", and a failed row so skipped was lost to R.
        model = FleetModel(["a"])
        model.apply_audit(audit("a", {"web": "nginx:1.25", "db": "postgres:16"}))
        model.apply_run_event(deploy_event("a/web", RowState.BUILDING, at=1.0), "nginx:1.26")
        model.apply_run_event(deploy_event("a/web", RowState.SKIPPED, at=2.0), "nginx:1.27")
        web = model.rows["a/web"].deploy
        assert web is not None and (web.state, web.to_image) == (RowState.BUILDING, "nginx:1.26")
        model.apply_run_event(deploy_event("a/web", RowState.FAILED, at=3.0))
        model.apply_run_event(deploy_event("a/web", RowState.SKIPPED, at=4.0), "nginx:1.27")
        assert model.failed_deploy_keys() == ["a/web"]
        model.apply_run_event(deploy_event("a/db", RowState.SKIPPED, at=5.0), "postgres:17")
        db = model.rows["a/db"].deploy
        assert db is not None and db.state is RowState.SKIPPED  # nothing to keep: shown

    def test_an_entry_s_warnings_show_on_its_rows(self) -> None:
        # Issue 12: the IDN and plain-http warnings are in the row, not only in the detail.
        from dataclasses import replace

        from gc_tui.tui.widgets.fleet_cells import status_word

        model = FleetModel(["a", "b"])
        warned = audit("a", {"web": "nginx:1.25"})
        note = "the host xn--fa-hia.de is punycode for faß.de"
        model.apply_audit(replace(warned, instance=replace(warned.instance, warnings=(note,))))
        model.apply_audit(audit("b", {"web": "nginx:1.25"}))
        assert status_word(model.rows["a/web"], 0.0) == "ok ⚠"
        assert status_word(model.rows["b/web"], 0.0) == "ok"
        model.set_filter(parse_filter("status:warning"))
        assert model.visible_keys() == ["a/web"]

    def test_rows_follow_vault_order_not_arrival_order(self) -> None:
        model = FleetModel(["a", "b"])
        model.apply_audit(audit("b", {"x": "nginx:1"}))
        model.apply_audit(audit("a", {"y": "nginx:1", "x": "nginx:1"}))
        assert model.ordered_keys() == ["a/x", "a/y", "b/x"]


def big_fleet(instances: int = 200, apps: int = 12) -> list[InstanceAudit]:
    return [
        audit(f"gc-{i:04d}", {f"app-{j:02d}": f"registry.example.org/app-{j}:1.{i % 7}.{j}"
                              for j in range(apps)})
        for i in range(instances)
    ]


class TestTableAtScale:
    """2,400 rows: a filter, its removal and a batch of run events show exactly what the
    model holds, the cursor where the operator expects it (timings: benchmarks/bench_tui.py)."""

    async def test_filter_and_updates_on_2400_rows(self) -> None:
        from gc_tui.settings import Settings
        from gc_tui.tui.app import make_app

        app = make_app(Settings())
        async with app.run_test(size=(140, 40)) as pilot:
            audits = big_fleet()
            await load_canned(pilot, audits)
            table: FleetTable = app.fleet_screen.table
            assert table.row_count == 2400
            table.move_to_key("gc-0100/app-05")
            app.fleet.set_filter(parse_filter("app:app-05"))
            app.fleet_screen.flush()
            await pilot.pause()
            # a new filter puts the cursor on the first match
            assert table.row_count == 200 and table.cursor_key() == "gc-0000/app-05"
            app.fleet.set_filter(parse_filter(""))
            app.fleet_screen.flush()
            await pilot.pause()
            assert table.row_count == 2400 and table.cursor_key() == "gc-0000/app-00"
            assert table.visible_keys() == app.fleet.ordered_keys()
            for key in app.fleet.ordered_keys()[::4]:
                app.fleet.apply_run_event(deploy_event(key, RowState.PLANNED, at=1.0))
            app.fleet_screen.flush()
            await pilot.pause()
            assert app.fleet.rows["gc-0000/app-00"].status.word == "planned"


class TestCapRoverColumn:
    """The version column says "update available" with an arrow and the version, not colour."""

    @pytest.mark.parametrize(("current", "latest", "can_update", "shown"), [
        ("1.13.1", "1.15.3", True, "1.13.1 ↑1.15.3"),
        ("1.15.3", "1.15.3", False, "1.15.3"),  # canUpdate false: maybe could not check
        ("1.13.1", "1.15.3", False, "1.13.1 ↑1.15.3"),  # the versions decide, not canUpdate
        ("1.15.3", "", False, "1.15.3"),
    ])
    def test_caprover_cell(
        self, current: str, latest: str, can_update: bool, shown: str
    ) -> None:
        from gc_tui.tui.widgets.fleet_table import caprover_text

        model = FleetModel(["a"])
        infos = (AppInfo("web", 1, "nginx:1.25", None),)
        model.apply_audit(InstanceAudit(Instance("a", "https://a"), InstanceStatus.OK, None,
                                        VersionInfo(current, latest, can_update), infos))
        assert str(caprover_text(model.rows["a/web"])) == shown


class TestUpdateStatus:
    """A running CapRover update wins the status column; the newer of update and deploy wins."""

    def test_update_states_on_every_row_of_the_instance(self) -> None:
        from gc_tui.tui.widgets.fleet_table import caprover_text, status_text

        model = FleetModel(["a", "b"])
        model.apply_audit(audit("a", {"web": "nginx:1.25", "db": "postgres:16"}))
        model.apply_audit(audit("b", {"web": "nginx:1.25"}))
        model.apply_run_event(deploy_event("a/web", RowState.DONE, started_at=1.0, at=2.0))
        model.apply_run_event(update_event("a", RowState.RESTARTING, at=3.0),
                              "caprover/caprover:1.15.3")
        assert [model.rows[k].status.word for k in ("a/web", "a/db", "b/web")] == [
            "caprover: restarting", "caprover: restarting", "ok"]
        assert str(status_text(model.rows["a/web"], 10.0)) == "caprover: restarting"
        assert str(caprover_text(model.rows["a/db"])) == "1.14.0→1.15.3"
        assert model.counts().updating == 1
        model.set_filter(parse_filter("status:restarting"))
        assert model.visible_keys() == ["a/db", "a/web"]
        # failed stays, with its reason, until something newer happens on the row
        model.apply_run_event(update_event("a", RowState.FAILED, at=4.0, error="no"),
                              "caprover/caprover:1.15.3")
        model.apply_audit(audit("a", {"web": "nginx:1.25", "db": "postgres:16"}))
        assert model.rows["a/db"].status.word == "caprover: failed"
        model.apply_run_event(deploy_event("a/db", RowState.PLANNED, at=5.0))
        assert model.rows["a/db"].status.word == "planned"
        # done is cleared by the audit that follows it: the version column shows the result
        model.apply_run_event(update_event("a", RowState.DONE, at=6.0),
                              "caprover/caprover:1.15.3")
        assert model.rows["a/web"].status.word == "caprover: done"
        model.apply_audit(audit("a", {"web": "nginx:1.25", "db": "postgres:16"}))
        assert model.rows["a/web"].status.word == "done"  # its own deploy, from before
        assert model.rows["a/web"].update is None and model.counts().updating == 0
