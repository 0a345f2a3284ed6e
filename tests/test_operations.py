"""FleetOperations without a terminal: what the TUI does to the fleet when things go wrong.

The idle lock waits for running deploys; events from before a lock are stale; "busy" has one
answer for the dialogs and the runs; stopping (quit, a lost terminal) ends every row with a
truthful state, journaled, and an exit report.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from gc_tui.core.deploy import DeployTiming
from gc_tui.core.engine import RowState
from gc_tui.core.http import HttpSettings
from gc_tui.core.journal import read_journal
from gc_tui.core.model import Instance
from gc_tui.core.operations import (
    AuditArrived,
    AuditEnded,
    FleetOperations,
    Locked,
    OpsEvent,
    RowChanged,
    RunEnded,
)
from gc_tui.core.plan import DeployTarget, build_plan, skip_busy
from gc_tui.core.secret import Secret
from gc_tui.core.update import UpdateTiming, build_update_plan
from gc_tui.demo.fleet import FakeFleet
from gc_tui.demo.instance import FakeInstance
from gc_tui.settings import Settings
from tests.fakefleet import eventually, fake_app, fake_instance, running_fleet

IMAGE = "repo/explorer:2"
Event = TypeVar("Event")


def entries(fleet: FakeFleet) -> list[Instance]:
    return [Instance(f.name, fleet.url(f.name), Secret(f.password)) for f in fleet.instances]


def settings(tmp_path: Path) -> Settings:
    return Settings(
        config=replace(Settings().config, client=HttpSettings(request_deadline=5)),
        journal_path=tmp_path / "deploys.jsonl",
        deploy_timing=DeployTiming(poll_interval=0.02, settle_seconds=0.05),
    )


class Recorder:
    def __init__(self) -> None:
        self.events: list[OpsEvent] = []

    def __call__(self, event: OpsEvent) -> None:
        self.events.append(event)

    def of(self, kind: type[Event]) -> list[Event]:
        return [event for event in self.events if isinstance(event, kind)]


async def unlocked(ops: FleetOperations, recorder: Recorder, fleet: FakeFleet) -> None:
    ops.unlocked_with(entries(fleet))
    await eventually(lambda: recorder.of(AuditEnded))


def explorer_fleet(*names: str, **options: Any) -> list[FakeInstance]:
    return [fake_instance(name, apps=[fake_app("explorer", "repo/explorer:1")], **options)
            for name in names]


class TestTheIdleLock:
    """Credentials go only once running deploys have ended; then every event is stale."""

    async def test_the_lock_waits_for_a_running_deploy(self, tmp_path: Path) -> None:
        recorder = Recorder()
        ops = FleetOperations(settings(tmp_path), recorder)
        async with running_fleet(*explorer_fleet("acme", build_seconds=0.3)) as fleet:
            await unlocked(ops, recorder, fleet)
            audits = [event.audit for event in recorder.of(AuditArrived)]
            ops.start_deploy(build_plan(audits, [DeployTarget("acme", "explorer", IMAGE)]))
            await eventually(lambda: any(
                e.event.state is RowState.BUILDING for e in recorder.of(RowChanged)))
            assert ops.lock() is False and ops.lock_pending
            assert ops.session is not None and not recorder.of(Locked)
            await eventually(lambda: recorder.of(Locked))
            (run_ended,) = recorder.of(RunEnded)
            assert [r.state for r in run_ended.engine.final_results()] == [RowState.DONE]
            assert ops.session is None and ops.instances == []
            assert not ops.current(recorder.of(AuditArrived)[0].epoch)
            assert recorder.of(Locked)[0].epoch == ops.epoch
            await ops.aclose()

    async def test_a_key_press_cancels_a_pending_lock(self, tmp_path: Path) -> None:
        recorder = Recorder()
        ops = FleetOperations(settings(tmp_path), recorder)
        async with running_fleet(*explorer_fleet("acme", build_seconds=0.2)) as fleet:
            await unlocked(ops, recorder, fleet)
            audits = [event.audit for event in recorder.of(AuditArrived)]
            ops.start_deploy(build_plan(audits, [DeployTarget("acme", "explorer", IMAGE)]))
            assert ops.lock() is False
            ops.cancel_lock()
            await eventually(lambda: recorder.of(RunEnded))
            assert ops.session is not None and not recorder.of(Locked)
            await ops.aclose()


class TestBusy:
    """One answer: an instance a run is changing is skipped by the dialogs' plans."""

    async def test_an_instance_being_deployed_is_busy_for_an_update(self, tmp_path: Path) -> None:
        recorder = Recorder()
        ops = FleetOperations(settings(tmp_path), recorder)
        fakes = explorer_fleet("acme", "bravo", build_seconds=0.3, version="1.14.2",
                               latest_version="1.15.3")
        async with running_fleet(*fakes) as fleet:
            await unlocked(ops, recorder, fleet)
            audits = [event.audit for event in recorder.of(AuditArrived)]
            ops.start_deploy(build_plan(audits, [DeployTarget("acme", "explorer", IMAGE)]))
            assert ops.busy_instances() == {"acme": "app deploys are running on it"}
            plan = skip_busy(build_update_plan(audits), ops.busy_instances())
            assert [row.instance for row in plan.rows] == ["bravo"]
            (skipped,) = plan.skipped
            assert skipped.instance == "acme" and "app deploys are running" in skipped.reason
            await eventually(lambda: recorder.of(RunEnded))
            await eventually(lambda: ops.busy_instances() == {})  # once acme is read again
            await ops.aclose()

    async def test_an_instance_is_busy_until_it_is_read_again_after_its_run(
        self, tmp_path: Path
    ) -> None:
        # Review (helper): between a row's end and the audit that follows it, a deploy
        # planned on the old audit said 'old -> new' where the server already ran new.
        recorder = Recorder()
        ops = FleetOperations(settings(tmp_path), recorder)
        (fake,) = explorer_fleet("acme", build_seconds=0.2)
        async with running_fleet(fake) as fleet:
            await unlocked(ops, recorder, fleet)
            audits = [event.audit for event in recorder.of(AuditArrived)]
            ops.start_deploy(build_plan(audits, [DeployTarget("acme", "explorer", IMAGE)]))
            await eventually(lambda: any(
                e.event.state is RowState.BUILDING for e in recorder.of(RowChanged)))
            fake.latency_seconds = 0.3  # the audit after the run takes a while
            await eventually(lambda: any(
                e.event.state is RowState.DONE for e in recorder.of(RowChanged)))
            assert "read again" in ops.busy_instances().get("acme", "")
            await eventually(lambda: len(recorder.of(AuditArrived)) == 2)
            assert recorder.of(AuditArrived)[-1].audit.apps[0].image == IMAGE
            assert ops.busy_instances() == {}
            await ops.aclose()


class TestCaps:
    """The TUI's runs take their caps from the settings: by default 8 instances deploy at a
    time and 4 update CapRover (tests/test_run_caps.py has the engines and the CLI)."""

    async def test_deploys_build_on_8_servers_at_a_time(self, tmp_path: Path) -> None:
        recorder = Recorder()
        ops = FleetOperations(settings(tmp_path), recorder)
        fakes = explorer_fleet(*(f"gc-{n:02d}" for n in range(10)), build_seconds=0)

        def building() -> int:
            return sum(len(fake.held_builds()) for fake in fakes)

        async with running_fleet(*fakes) as fleet:
            fleet.hold_builds()
            await unlocked(ops, recorder, fleet)
            audits = [event.audit for event in recorder.of(AuditArrived)]
            ops.start_deploy(build_plan(
                audits, [DeployTarget(fake.name, "explorer", IMAGE) for fake in fakes]))
            await fleet.wait_until(lambda: building() >= 8)
            assert building() == sum(len(fake.deploy_requests()) for fake in fakes) == 8
            fleet.release_builds()
            await eventually(lambda: recorder.of(RunEnded))
            await ops.aclose()
        (ended,) = recorder.of(RunEnded)
        assert [r.state for r in ended.engine.final_results()] == [RowState.DONE] * 10

    async def test_caprover_updates_run_on_4_servers_at_a_time(self, tmp_path: Path) -> None:
        recorder = Recorder()
        quick = UpdateTiming(poll_interval=0.02, deadline=10.0, busy_retry=0.05)
        ops = FleetOperations(replace(settings(tmp_path), update_timing=quick), recorder)
        fakes = explorer_fleet(*(f"gc-{n:02d}" for n in range(6)), version="1.14.2",
                               latest_version="1.15.3", update_pull_seconds=0.05,
                               restart_seconds=0.05, not_ready_seconds=0.05)
        async with running_fleet(*fakes) as fleet:
            await unlocked(ops, recorder, fleet)
            audits = [event.audit for event in recorder.of(AuditArrived)]
            ops.start_update(build_update_plan(audits))
            await eventually(lambda: recorder.of(RunEnded))
            await ops.aclose()
        (ended,) = recorder.of(RunEnded)
        assert [r.state for r in ended.engine.final_results()] == [RowState.DONE] * 6
        # The rows the run was working on at once, in the order the App was told.
        working: set[str] = set()
        most = 0
        for changed in recorder.of(RowChanged):
            if changed.event.state is RowState.SENDING:
                working.add(changed.event.instance)
            elif changed.event.state.final:
                working.discard(changed.event.instance)
            most = max(most, len(working))
        assert most == 4


class TestStopping:
    """Quit or a lost terminal: nothing new starts, every row ends truthfully, journaled."""

    async def test_stop_runs_reports_every_row(self, tmp_path: Path) -> None:
        recorder = Recorder()
        ops = FleetOperations(replace(settings(tmp_path), deploy_concurrency=1), recorder)
        fakes = explorer_fleet("acme", "bravo", "charlie", build_seconds=5.0)
        async with running_fleet(*fakes) as fleet:
            await unlocked(ops, recorder, fleet)
            audits = [event.audit for event in recorder.of(AuditArrived)]
            engine = ops.start_deploy(build_plan(
                audits, [DeployTarget(name, "explorer", IMAGE) for name in ("acme", "bravo",
                                                                             "charlie")]))
            assert engine is not None
            await eventually(lambda: any(
                e.event.state is RowState.BUILDING for e in recorder.of(RowChanged)))
            running = list(ops.engines)
            await ops.stop_runs()
            lines, code = ops.exit_report(running)
        states = {r.instance: (r.state, r.error) for r in engine.final_results()}
        # acme was building (the server goes on with it); the other two never left here.
        assert states["acme"][0] is RowState.CANCELLED
        assert "interrupted while building" in (states["acme"][1] or "")
        for name in ("bravo", "charlie"):
            assert states[name][0] is RowState.CANCELLED and "never sent" in (states[name][1] or "")
        assert [f.name for f in fakes if f.deploy_requests()] == ["acme"]
        assert code == 1 and len([line for line in lines if "/ explorer:" in line]) == 3
        assert "gc-tui log --reconcile" in lines[-1]
        (run,) = read_journal(tmp_path / "deploys.jsonl").runs
        assert {row.instance: row.state for row in run.rows.values()} == {
            "acme": "cancelled", "bravo": "cancelled", "charlie": "cancelled"
        }
        await ops.aclose()

    async def test_nothing_running_quits_at_once(self, tmp_path: Path) -> None:
        ops = FleetOperations(settings(tmp_path), Recorder())
        assert ops.quit_question() is None
        assert ops.exit_report([]) == ([], 0)


async def test_events_from_before_a_lock_are_stale(tmp_path: Path) -> None:
    recorder = Recorder()
    ops = FleetOperations(settings(tmp_path), recorder)
    async with running_fleet(*explorer_fleet("acme")) as fleet:
        await unlocked(ops, recorder, fleet)
        (arrived,) = recorder.of(AuditArrived)
        assert ops.current(arrived.epoch)
        assert ops.lock() is True
        assert not ops.current(arrived.epoch)
        # Unlocking again starts a new epoch whose events are current.
        ops.unlocked_with(entries(fleet))
        await eventually(lambda: len(recorder.of(AuditArrived)) == 2)
        assert ops.current(recorder.of(AuditArrived)[-1].epoch)
        await asyncio.sleep(0)
        await ops.aclose()
