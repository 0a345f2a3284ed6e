"""The deploy engine against fake CapRover servers: what the servers received is the plan,
nothing more; every row ends in a final state with its reason; the log holds every row."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import replace

import httpx
import pytest

from gc_tui.core.audit import audit_fleet, audit_stream
from gc_tui.core.deploy import DeployEngine, DeployTiming
from gc_tui.core.engine import RowEvent, RowResult, RowState
from gc_tui.core.http import HttpSettings
from gc_tui.core.journal import Journal, read_journal
from gc_tui.core.model import Instance, InstanceStatus
from gc_tui.core.plan import DeployTarget, Plan, build_plan
from gc_tui.core.secret import Secret
from gc_tui.core.session import FleetSession
from gc_tui.demo.fleet import FakeFleet
from gc_tui.demo.instance import FakeInstance
from tests.fakefleet import deploy, fake_app, fake_instance, login, running_fleet

FAST_CLIENT = HttpSettings(connect_timeout=2, read_timeout=2, request_deadline=2)
FAST_TIMING = DeployTiming(poll_interval=0.02, settle_seconds=0.1, busy_retry_first=0.05)
OLD = "communityfirst/superset-deployment:6.0.0_20260303-0213"
NEW = "communityfirst/superset-deployment:6.1.0_20260803-1652"


def superset_instance(name: str, **options: object) -> FakeInstance:
    return fake_instance(
        name,
        f"{name}-password",
        apps=[
            fake_app("postgres", "postgres:16", 1),
            fake_app("superset", OLD, 3, tags=["superset"]),
            fake_app("superset-worker", OLD, 3, tags=["superset"]),
            fake_app("superset-init-and-beat", OLD, 3, tags=["superset"]),
            fake_app("explorer", "communityfirst/guardianconnector-explorer:20260601-1", 2),
        ],
        **options,
    )


def entries(fleet: FakeFleet) -> list[Instance]:
    return [Instance(f.name, fleet.url(f.name), Secret(f.password)) for f in fleet.instances]


async def plan_and_run(
    fleet: FakeFleet,
    wanted: Sequence[DeployTarget],
    *,
    journal: Journal | None = None,
    events: list[RowEvent] | None = None,
    cancel_after_first_build: bool = False,
) -> tuple[Plan, list[RowResult]]:
    async with FleetSession(entries(fleet), FAST_CLIENT) as session:
        audits = await audit_fleet(session)
        plan = build_plan(audits, wanted)
        seen = events if events is not None else []

        def record(event: RowEvent) -> None:
            seen.append(event)
            if cancel_after_first_build and event.state is RowState.BUILDING:
                engine.cancel()

        engine = DeployEngine(
            session, plan, timing=FAST_TIMING, on_event=record, journal=journal
        )
        return plan, await engine.run()


def received(fleet: FakeFleet) -> set[tuple[str, str, str]]:
    return {(f.name, app, image) for f in fleet.instances for app, image in f.deploy_requests()}


def planned(plan: Plan) -> set[tuple[str, str, str]]:
    return {(row.instance, row.app, row.to_image) for row in plan.rows}


def building_only(fake: FakeInstance, app: str) -> Callable[[], bool]:
    """True while ``app``'s build, and nothing else, waits at the fake's gate."""
    return lambda: fake.held_builds() == [app]


class TestTheServersReceiveThePlan:
    """The fakes' own request record, not the engine's report, decides what was deployed."""

    async def test_a_group_expanded_on_several_instances(self) -> None:
        fakes = [superset_instance(name) for name in ("acme", "bravo", "charlie")]
        async with running_fleet(*fakes) as fleet:
            wanted = [DeployTarget(f.name, "superset", NEW) for f in fakes]
            plan, results = await plan_and_run(fleet, wanted)
            assert len(plan.rows) == 9
            assert received(fleet) == planned(plan)
            assert all(r.state is RowState.DONE for r in results)
            for fake in fakes:
                for member in ("superset", "superset-worker", "superset-init-and-beat"):
                    assert fake.app(member).deployed_image == NEW  # type: ignore[union-attr]

    async def test_skipped_rows_are_never_sent(self) -> None:
        fake = superset_instance("acme")
        fake.apps[2] = fake_app("superset-worker", "img-captain-superset-worker:0", 1)
        async with running_fleet(fake) as fleet:
            wanted = [
                DeployTarget("acme", "superset", NEW),
                DeployTarget("acme", "postgres", "postgres:17"),
                DeployTarget(
                    "acme", "explorer", "communityfirst/guardianconnector-explorer:20260601-1"
                ),
            ]
            plan, results = await plan_and_run(fleet, wanted)
            assert received(fleet) == planned(plan) == {
                ("acme", "superset", NEW),
                ("acme", "superset-init-and-beat", NEW),
            }
            by_app = {r.app: r for r in results}
            assert by_app["superset-worker"].state is RowState.SKIPPED
            assert "server build" in (by_app["superset-worker"].error or "")
            assert "held" in (by_app["postgres"].error or "")
            assert "already on" in (by_app["explorer"].error or "")


class TestOneFailureNeverStopsTheOthers:
    """A failed build, an unreachable instance, a 429: each on its own row, with a reason."""

    async def test_a_failing_build_shows_its_reason_and_log(self) -> None:
        fakes = [superset_instance("acme"), superset_instance("bravo")]
        fakes[0].failing_images = {NEW}
        async with running_fleet(*fakes) as fleet:
            _plan, results = await plan_and_run(
                fleet,
                [DeployTarget(f.name, "explorer", NEW.replace("superset-deployment", "x"))
                 for f in fakes]
                + [DeployTarget(f.name, "superset", NEW) for f in fakes],
            )
        by_key = {r.key: r for r in results}
        failed = by_key["acme/superset"]
        assert failed.state is RowState.FAILED
        assert "build failed" in (failed.error or "")
        assert any("Deploy failed!" in line for line in failed.log_tail)
        assert by_key["bravo/superset"].state is RowState.DONE
        # Its group siblings were tried too (they also fail here) and carry the group's story.
        assert "group member superset failed" in (by_key["acme/superset-worker"].error or "")
        assert fakes[0].app("superset").deployed_image == OLD  # type: ignore[union-attr]

    async def test_an_unreachable_instance(self) -> None:
        fakes = [superset_instance("acme"), superset_instance("bravo", fault="unreachable")]
        async with running_fleet(*fakes) as fleet:
            _plan, results = await plan_and_run(
                fleet, [DeployTarget(f.name, "superset", NEW) for f in fakes]
            )
        states = {r.key: (r.state, r.error) for r in results}
        assert states["acme/superset"][0] is RowState.DONE
        assert states["bravo/superset"][0] is RowState.SKIPPED
        assert "failed the audit" in (states["bravo/superset"][1] or "")

    async def test_a_429_is_waited_out(self) -> None:
        fake = superset_instance("acme", update_fails=True, update_pull_seconds=0.4)
        async with running_fleet(fake) as fleet:
            async with FleetSession(entries(fleet), FAST_CLIENT) as session:
                audits = await audit_fleet(session)
                plan = build_plan(audits, [DeployTarget("acme", "explorer", "repo/explorer:2")])
                # Someone else's write (a failing CapRover update) holds the server's lock.
                other = FleetSession(entries(fleet), FAST_CLIENT)
                blocker = asyncio.create_task(
                    other.client("acme").start_caprover_update("9.9.9")
                )
                await fake.wait_until(lambda: fake.state.lock_holder is not None)
                results = await DeployEngine(session, plan, timing=FAST_TIMING).run()
                await asyncio.gather(blocker, return_exceptions=True)
                await other.aclose()
        assert results[0].state is RowState.DONE
        # The server's record: the update held the lock first, the deploy was refused (429)
        # at least once and sent again, and exactly one build ran.
        posts = [r for r in fake.requests if r.method == "POST" and "login" not in r.path]
        assert "versionInfo" in posts[0].path
        assert len(fake.deploy_requests()) >= 2
        assert fake.app("explorer").deployed_image == "repo/explorer:2"  # type: ignore[union-attr]

    async def test_a_restart_mid_run_is_recovered_with_one_new_login(self) -> None:
        fake = superset_instance("acme")
        fake.hold_builds()  # the build is still running on the server when it restarts
        async with running_fleet(fake) as fleet:

            async def restart_while_building() -> None:
                await fake.wait_until(lambda: fake.held_builds() == ["explorer"])
                fake.restart()

            restarter = asyncio.create_task(restart_while_building())
            _plan, results = await plan_and_run(
                fleet, [DeployTarget("acme", "explorer", "repo/explorer:2")]
            )
            await restarter
        # The restart lost the build (as a real one would: the build queue lives in memory);
        # the engine logged in again instead of failing on 1106, and the row says the new
        # version never went live.
        assert fake.login_attempts() == 2
        assert results[0].state is RowState.FAILED
        assert "did not go live" in (results[0].error or ""), results[0].error


class TestDoneMeansTheServerRunsIt:
    """A row is done only when the app runs the row's image; a build that ended is not enough."""

    async def test_a_colleagues_deploy_that_lands_during_verification_fails_the_row(
        self,
    ) -> None:
        # A colleague deploys another image of the app from the dashboard while ours builds.
        # CapRover queues it and starts it as ours ends (docs/caprover-api.md, "The build
        # queue"), so deployedVersion grows past ours, with their image.
        ours, theirs = "repo/explorer:2", "repo/explorer:colleague"
        fake = superset_instance("acme", build_seconds=0)
        fake.hold_builds()
        verifying = asyncio.Event()

        def on_event(event: RowEvent) -> None:
            if event.state is RowState.VERIFYING:
                verifying.set()

        async with running_fleet(fake) as fleet, httpx.AsyncClient() as dashboard:
            async with FleetSession(entries(fleet), FAST_CLIENT) as session:
                plan = build_plan(
                    await audit_fleet(session), [DeployTarget("acme", "explorer", ours)]
                )
                # The settle wait is the window in which theirs goes live: ample, so the
                # test's own steps below always fit in it.
                timing = replace(FAST_TIMING, settle_seconds=0.5)
                engine = DeployEngine(session, plan, timing=timing, on_event=on_event)
                run = asyncio.create_task(engine.run())
                await fake.wait_until(building_only(fake, "explorer"))
                base = fleet.url("acme")
                token = await login(dashboard, base, fake.password)
                await deploy(dashboard, base, token, "explorer", theirs)  # queued behind ours
                fake.release_builds()  # ours ends; theirs starts ...
                fake.hold_builds()  # ... and waits at the gate
                await verifying.wait()
                await fake.wait_until(building_only(fake, "explorer"))
                fake.release_builds()  # theirs goes live while ours is being verified
                (result,) = await run
        assert fake.deploy_requests() == [("explorer", ours), ("explorer", theirs)]
        assert fake.app("explorer").deployed_image == theirs  # type: ignore[union-attr]
        assert result.state is RowState.FAILED
        assert result.error == f"version 3 runs {theirs}, not the target"


class TestCancelAndLog:
    """Ctrl-C starts nothing new, lets what is in flight end, and every row is logged."""

    async def test_cancel_mid_run(self) -> None:
        fake = superset_instance("acme")
        journal = Journal()
        async with running_fleet(fake) as fleet:
            _plan, results = await plan_and_run(
                fleet,
                [DeployTarget("acme", "superset", NEW)],
                journal=journal,
                cancel_after_first_build=True,
            )
        states = {r.app: r.state for r in results}
        assert states["superset"] is RowState.DONE
        assert states["superset-worker"] is RowState.CANCELLED
        assert states["superset-init-and-beat"] is RowState.CANCELLED
        assert received(fleet) == {("acme", "superset", NEW)}
        (run,) = read_journal(journal.path).runs
        assert {row.app: row.state for row in run.rows.values()} == {
            app: str(state) for app, state in states.items()
        }
        # The one that went out was on disk as "sending" before it left; the others never.
        assert run.rows["acme/superset"].states[:4] == ["planned", "sending", "sent", "building"]
        assert run.rows["acme/superset-worker"].states == ["planned", "cancelled"]
        assert "never sent" in (run.rows["acme/superset-worker"].error or "")
        assert oct(journal.path.stat().st_mode & 0o777) == "0o600"
        text = journal.path.read_text()
        assert fake.password not in text and fake.env_secret not in text


class TestSplitGroups:
    """A run that leaves a service group half-upgraded names the group and the instance."""

    async def run_engine(
        self, fleet: FakeFleet, journal: Journal, *, cancel_after_first_build: bool
    ) -> DeployEngine:
        async with FleetSession(entries(fleet), FAST_CLIENT) as session:
            plan = build_plan(await audit_fleet(session), [DeployTarget("acme", "superset", NEW)])

            def record(event: RowEvent) -> None:
                if cancel_after_first_build and event.state is RowState.BUILDING:
                    engine.cancel()

            engine = DeployEngine(session, plan, timing=FAST_TIMING, on_event=record,
                                  journal=journal)
            await engine.run()
            return engine

    async def test_a_cancel_that_splits_a_group_is_named(self) -> None:
        journal = Journal()
        async with running_fleet(superset_instance("acme")) as fleet:
            engine = await self.run_engine(fleet, journal, cancel_after_first_build=True)
        message = "group superset on acme is split: 2 cancelled, 1 done"
        assert [split.message for split in engine.splits] == [message]
        (run,) = read_journal(journal.path).runs
        assert [split["message"] for split in run.splits] == [message]

    async def test_a_whole_group_is_not_split(self) -> None:
        journal = Journal()
        async with running_fleet(superset_instance("acme")) as fleet:
            engine = await self.run_engine(fleet, journal, cancel_after_first_build=False)
        assert engine.splits == []

    async def test_members_the_plan_skipped_do_not_make_a_split(self) -> None:
        # A server-built worker was skipped in the plan, with its reason, before anything was
        # sent: the operator knew. Naming it again after every monthly run would be noise.
        fake = fake_instance("acme", "acme-password", apps=[
            fake_app("superset", OLD, 3, tags=["superset"]),
            fake_app("superset-worker", "img-captain-superset-worker:4", 4, tags=["superset"]),
            fake_app("superset-init-and-beat", OLD, 3, tags=["superset"]),
        ])
        journal = Journal()
        async with running_fleet(fake) as fleet:
            engine = await self.run_engine(fleet, journal, cancel_after_first_build=False)
        assert {r.app: r.state for r in engine.results.values()}["superset-worker"] is (
            RowState.SKIPPED
        )
        assert engine.splits == []


class TestAudit:
    """One result per instance whatever happens to the others, fast ones first."""

    async def test_statuses(self) -> None:
        fakes = [
            superset_instance("ok"),
            superset_instance("down", fault="unreachable"),
            superset_instance("html", fault="html"),
            fake_instance("locked", "pw", otp_secret="JBSWY3DPEHPK3PXP"),
        ]
        async with running_fleet(*fakes) as fleet:
            instances = entries(fleet)
            instances[1:1] = []
            wrong = Instance("wrongpw", fleet.url("ok"), Secret("nope"))
            async with FleetSession([*instances, wrong], FAST_CLIENT) as session:
                audits = await audit_fleet(session)
        assert [(a.instance.name, a.status) for a in audits] == [
            ("ok", InstanceStatus.OK),
            ("down", InstanceStatus.UNREACHABLE),
            ("html", InstanceStatus.ERROR),
            ("locked", InstanceStatus.OTP_REQUIRED),
            ("wrongpw", InstanceStatus.AUTH_FAILED),
        ]
        assert audits[0].version is not None and len(audits[0].apps) == 5

    async def test_results_stream_without_waiting_for_the_slowest(self) -> None:
        fakes = [fake_instance("slow", fault="slow", slow_seconds=1.5), fake_instance("fast")]
        async with running_fleet(*fakes) as fleet:
            async with FleetSession(entries(fleet), HttpSettings(request_deadline=5)) as session:
                order = [audit.instance.name async for audit in audit_stream(session)]
        assert order == ["fast", "slow"]


@pytest.mark.parametrize("concurrency", [1, 4])
async def test_one_deploy_at_a_time_per_instance(concurrency: int) -> None:
    """CapRover builds one thing at a time: whatever the fleet-wide cap, an instance's next
    deploy goes out only once the server has ended the build before it."""
    fake = superset_instance("acme")
    fake.hold_builds()
    async with running_fleet(fake) as fleet:
        async with FleetSession(entries(fleet), FAST_CLIENT) as session:
            audits = await audit_fleet(session)
            plan = build_plan(audits, [DeployTarget("acme", "superset", NEW)])
            engine = DeployEngine(session, plan, concurrency=concurrency, timing=FAST_TIMING)
            run = asyncio.create_task(engine.run())
            members = [row.app for row in plan.rows]
            for count, member in enumerate(members, start=1):
                await fake.wait_until(building_only(fake, member))
                # While this build runs, the server has received nothing after it.
                assert [app for app, _ in fake.deploy_requests()] == members[:count]
                fake.release_builds()
                fake.hold_builds()  # the builds that come later wait again
            fake.release_builds()
            results = await run
    assert len(members) == 3
    assert [result.state for result in results] == [RowState.DONE] * 3
