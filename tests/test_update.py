"""CapRover self-updates against fakes that really restart: refused connections or 502, then
1001, then every old token rejected. The fakes' record of update requests is the plan."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gc_tui.core.audit import audit_fleet
from gc_tui.core.deploy import DeployEngine, DeployTiming
from gc_tui.core.engine import RowResult, RowState
from gc_tui.core.http import HttpSettings
from gc_tui.core.journal import Journal, read_journal
from gc_tui.core.model import Instance
from gc_tui.core.plan import DeployTarget, build_plan
from gc_tui.core.secret import Secret
from gc_tui.core.session import FleetSession
from gc_tui.core.update import UpdateEngine, UpdateTiming, build_update_plan
from gc_tui.demo.fleet import FakeFleet
from gc_tui.demo.instance import FakeInstance, Fault
from tests.fakefleet import FAST, fake_app, fake_instance, running_fleet

CLIENT = HttpSettings(connect_timeout=1, read_timeout=2, request_deadline=2)
TIMING = UpdateTiming(poll_interval=0.05, deadline=3.0, busy_retry=0.05)


def behind(name: str, **options: Any) -> FakeInstance:
    return fake_instance(name, f"{name}-pw", version="1.14.2", latest_version="1.15.3", **options)


def entries(fleet: FakeFleet) -> list[Instance]:
    return [Instance(f.name, fleet.url(f.name), Secret(f.password)) for f in fleet.instances]


async def update(fleet: FakeFleet, journal: Journal | None = None) -> dict[str, RowResult]:
    async with FleetSession(entries(fleet), CLIENT) as session:
        plan = build_update_plan(await audit_fleet(session))
        results = await UpdateEngine(session, plan, timing=TIMING, journal=journal).run()
    return {row.instance: row for row in results}


class CutsTheUpdateAnswer(FakeInstance):
    """Answers the self-update POST with half a body, then hangs up; everything else whole."""

    cut = False

    @property
    def active_fault(self) -> Fault | None:
        last = self.requests[-1] if self.requests else None
        if (not self.cut and last is not None and last.method == "POST"
                and last.path.lower().rstrip("/") == "/api/v2/user/system/versioninfo"):
            self.cut = True
            return Fault.TRUNCATED
        return super().active_fault


class TestUpdates:
    """Each instance goes through the restart to its new version, or fails with a reason."""

    async def test_several_at_once_through_both_restart_modes(self) -> None:
        fakes = [behind("alpha"), behind("bravo", restart_mode="502"), fake_instance("current")]
        async with running_fleet(*fakes) as fleet:
            rows = await update(fleet, journal=Journal())
        assert rows["alpha"].state is RowState.DONE
        assert rows["bravo"].state is RowState.DONE
        assert rows["current"].state is RowState.SKIPPED
        assert [f.update_requests() for f in fakes] == [["1.15.3"], ["1.15.3"], []]
        assert [f.version for f in fakes[:2]] == ["1.15.3", "1.15.3"]
        # Old tokens died with the restart: each instance needed exactly one more login.
        assert [f.login_attempts() for f in fakes[:2]] == [2, 2]
        (run,) = read_journal().runs
        assert run.action == "caprover-update"
        assert {(row.instance, row.state) for row in run.rows.values()} == {
            ("alpha", "done"), ("bravo", "done"), ("current", "skipped")
        }
        assert run.rows["alpha/CapRover"].states == [
            "planned", "sending", "sent", "restarting", "verifying", "done"
        ]

    async def test_a_failing_update_and_one_that_never_comes_back(self) -> None:
        fakes = [behind("broken", update_fails=True), behind("gone", never_returns=True)]
        async with running_fleet(*fakes) as fleet:
            rows = await update(fleet)
        broken, gone = rows["broken"], rows["gone"]
        assert broken.state is RowState.FAILED and "refused" in (broken.error or "")
        assert gone.state is RowState.FAILED and "did not come back" in (gone.error or "")

    async def test_an_update_whose_answer_broke_is_followed_through_the_restart(self) -> None:
        # The server took the update and the connection broke before its answer was whole:
        # "refused" would be false (helper review), the version the server comes back on
        # decides. A complete HTTP 500 (a failed pull) stays "refused", as the test above.
        fake = CutsTheUpdateAnswer(name="alpha", password="alpha-pw", version="1.14.2",
                                   latest_version="1.15.3", **FAST)
        async with running_fleet(fake) as fleet:
            rows = await update(fleet, journal=Journal())
        assert fake.update_requests() == ["1.15.3"] and fake.version == "1.15.3"
        assert rows["alpha"].state is RowState.DONE, rows["alpha"].error
        (run,) = read_journal().runs
        assert "not sent" not in run.rows["alpha/CapRover"].states

    async def test_the_update_plan_says_why_an_instance_is_skipped(self) -> None:
        fakes = [fake_instance("nocheck", version_check_fails=True), behind("ro")]
        async with running_fleet(*fakes) as fleet:
            async with FleetSession(entries(fleet), CLIENT) as session:
                audits = await audit_fleet(session)
        plan = build_update_plan(audits, read_only=True)
        reasons = {row.instance: row.reason for row in plan.skipped}
        assert "could not check" in reasons["nocheck"]
        assert reasons["ro"] == "read-only"


class TestNeverBothAtOnce:
    """No update while app deploys run on the instance, and no deploy while it updates."""

    async def test_an_instance_busy_with_a_deploy_is_refused(self) -> None:
        fake = behind("alpha", apps=[fake_app("explorer", "repo/explorer:1")], build_seconds=0.5)
        async with running_fleet(fake) as fleet:
            async with FleetSession(entries(fleet), CLIENT) as session:
                audits = await audit_fleet(session)
                deploy_plan = build_plan(
                    audits, [DeployTarget("alpha", "explorer", "repo/explorer:2")]
                )
                deploying = asyncio.create_task(
                    DeployEngine(
                        session, deploy_plan,
                        timing=DeployTiming(poll_interval=0.05, settle_seconds=0.1),
                    ).run()
                )
                await asyncio.sleep(0.1)
                update_plan = build_update_plan(audits)
                (result,) = await UpdateEngine(session, update_plan, timing=TIMING).run()
                (deployed,) = await deploying
        assert result.state is RowState.FAILED and "busy: app deploys" in (result.error or "")
        assert fake.update_requests() == []
        assert deployed.state is RowState.DONE

    async def test_a_build_running_on_the_server_is_seen_too(self) -> None:
        fake = behind("alpha", apps=[fake_app("explorer", "repo/explorer:1")], build_seconds=0.5)
        async with running_fleet(fake) as fleet:
            # Someone else deploys from the dashboard, after our audit.
            async with FleetSession(entries(fleet), CLIENT) as elsewhere:
                await elsewhere.client("alpha").deploy_image("explorer", "repo/explorer:2")
            async with FleetSession(entries(fleet), CLIENT) as session:
                audits = await audit_fleet(session)
                plan = build_update_plan(audits)
        assert plan.rows == ()
        assert "building" in plan.skipped[0].reason

    @pytest.mark.parametrize("restart_mode", ["refuse", "502"])
    async def test_a_deploy_during_an_update_is_refused(self, restart_mode: str) -> None:
        fake = behind(
            "alpha", apps=[fake_app("explorer", "repo/explorer:1")], restart_mode=restart_mode
        )
        async with running_fleet(fake) as fleet:
            async with FleetSession(entries(fleet), CLIENT) as session:
                audits = await audit_fleet(session)
                updating = asyncio.create_task(
                    UpdateEngine(session, build_update_plan(audits), timing=TIMING).run()
                )
                await asyncio.sleep(0.02)
                plan = build_plan(audits, [DeployTarget("alpha", "explorer", "repo/explorer:2")])
                engine = DeployEngine(session, plan, timing=DeployTiming(poll_interval=0.05))
                (row,) = await engine.run()
                (updated,) = await updating
        assert row.state is RowState.FAILED and "CapRover update" in (row.error or "")
        assert fake.deploy_requests() == []
        assert updated.state is RowState.DONE
