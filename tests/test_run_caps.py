"""A run works on a few instances at a time, never the whole fleet at once: a bad image or a
bad CapRover release then reaches a handful of servers before the operator can stop it. The
caps are 8 instances for deploys and 4 for CapRover updates, or ``--concurrency N`` for both
(README, "Deploying safely").

Deploys are counted on the servers: the fakes hold every build, so the instances building
at once are the ones the run is working on. A self-update cannot be held; its servers' own
record shows which updates overlapped (from the update request to the last question the run
asked that server), and the CLI's journal the order in which rows started and ended.
"""

from __future__ import annotations

import asyncio
import io
import json
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from gc_tui.cli import run
from gc_tui.core.audit import audit_fleet
from gc_tui.core.deploy import DeployEngine, DeployTiming
from gc_tui.core.engine import FINAL_STATES, RowState
from gc_tui.core.http import HttpSettings
from gc_tui.core.journal import default_journal_path
from gc_tui.core.model import Instance
from gc_tui.core.plan import DeployTarget, build_plan
from gc_tui.core.secret import Secret
from gc_tui.core.session import FleetSession
from gc_tui.core.update import UpdateEngine, UpdateTiming, build_update_plan
from gc_tui.demo.fleet import FakeFleet, FakeFleetThread
from gc_tui.demo.instance import FakeInstance
from gc_tui.settings import Settings
from tests.fakefleet import fake_app, fake_instance, running_fleet
from tests.vaults import make_vault

OLD, NEW = "repo/explorer:1", "repo/explorer:2"
CLIENT = HttpSettings(connect_timeout=2, read_timeout=5, request_deadline=5)
DEPLOY_TIMING = DeployTiming(poll_interval=0.02, settle_seconds=0.02, busy_retry_first=0.05)
UPDATE_TIMING = UpdateTiming(poll_interval=0.02, deadline=10.0, busy_retry=0.05)
QUICK_RESTART = {"update_pull_seconds": 0.05, "restart_seconds": 0.05, "not_ready_seconds": 0.05}
VAULT_PASSWORD = "caps-vault-pw"
FINAL = {str(state) for state in FINAL_STATES}


def explorer_fleet(count: int, **options: Any) -> list[FakeInstance]:
    """``count`` instances with one app each, behind on CapRover; builds take no time."""
    return [
        fake_instance(f"gc-{n:02d}", f"gc-{n:02d}-pw", apps=[fake_app("explorer", OLD)],
                      version="1.14.2", latest_version="1.15.3", build_seconds=0, **options)
        for n in range(count)
    ]


def entries(fleet: FakeFleet) -> list[Instance]:
    return [Instance(f.name, fleet.url(f.name), Secret(f.password)) for f in fleet.instances]


def building(fakes: Sequence[FakeInstance]) -> int:
    """How many of the servers have a build running (held at the gate) now."""
    return sum(len(fake.held_builds()) for fake in fakes)


def deploys_received(fakes: Sequence[FakeInstance]) -> int:
    return sum(len(fake.deploy_requests()) for fake in fakes)


def building_at_least(fakes: Sequence[FakeInstance], count: int) -> Callable[[], bool]:
    return lambda: building(fakes) >= count


def most_updating_at_once(fakes: Sequence[FakeInstance]) -> int:
    """The most servers that were between their update request and the run's last question
    to them at the same moment, from the servers' own record (arrival times).

    A run holds an instance from before its update request until after the answer to its
    last question, so at most its cap of these spans can overlap.
    """
    edges: list[tuple[float, int]] = []
    for fake in fakes:
        posts = [r.at for r in fake.requests
                 if r.method == "POST" and r.path.lower().endswith("/versioninfo")]
        if posts:
            edges += [(posts[0], 1), (fake.requests[-1].at, -1)]
    now = most = 0
    for _, step in sorted(edges):  # at a tie an end comes first: touching spans do not overlap
        now += step
        most = max(most, now)
    return most


def most_rows_at_once(journal: Path) -> int:
    """The most rows between ``sending`` and their end at once, in the journal's order."""
    running: set[tuple[str, str]] = set()
    most = 0
    for line in journal.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record.get("type") != "row":
            continue
        key = (record["instance"], record["app"])
        if record["state"] == "sending":
            running.add(key)
        elif record["state"] in FINAL:
            running.discard(key)
        most = max(most, len(running))
    return most


class TestTheEngines:
    """The engines, given a cap or using their own default."""

    @pytest.mark.parametrize(("options", "cap"), [({"concurrency": 3}, 3), ({}, 8)],
                             ids=["cap-3", "default"])
    async def test_deploys_build_on_at_most_the_cap_of_servers(
        self, options: dict[str, Any], cap: int
    ) -> None:
        fakes = explorer_fleet(cap + 3)
        async with running_fleet(*fakes) as fleet:
            fleet.hold_builds()
            async with FleetSession(entries(fleet), CLIENT) as session:
                plan = build_plan(await audit_fleet(session),
                                  [DeployTarget(f.name, "explorer", NEW) for f in fakes])
                engine = DeployEngine(session, plan, timing=DEPLOY_TIMING, **options)
                deploying = asyncio.create_task(engine.run())
                await fleet.wait_until(building_at_least(fakes, cap))
                # The first wave is on the servers; the others wait for a free slot.
                assert building(fakes) == deploys_received(fakes) == cap
                assert sum(1 for state in engine.states.values()
                           if state is not RowState.PLANNED) == cap
                fleet.release_builds()
                results = await deploying
        assert [result.state for result in results] == [RowState.DONE] * len(fakes)
        assert deploys_received(fakes) == len(fakes)

    @pytest.mark.parametrize(("options", "cap"), [({"concurrency": 2}, 2), ({}, 4)],
                             ids=["cap-2", "default"])
    async def test_updates_restart_at_most_the_cap_of_servers(
        self, options: dict[str, Any], cap: int
    ) -> None:
        fakes = explorer_fleet(cap + 2, **QUICK_RESTART)
        async with running_fleet(*fakes) as fleet:
            async with FleetSession(entries(fleet), CLIENT) as session:
                plan = build_update_plan(await audit_fleet(session))
                results = await UpdateEngine(
                    session, plan, timing=UPDATE_TIMING, **options
                ).run()
        assert [result.state for result in results] == [RowState.DONE] * len(fakes)
        assert [fake.version for fake in fakes] == ["1.15.3"] * len(fakes)
        assert most_updating_at_once(fakes) == cap


@pytest.fixture
def cli_fleet(tmp_path: Path) -> Iterator[tuple[FakeFleetThread, Path]]:
    """Ten instances behind on CapRover and on the explorer image, and a vault for them."""
    with FakeFleetThread(explorer_fleet(10, **QUICK_RESTART)) as fleet:
        vault = make_vault(tmp_path / "fleet.kdbx", [
            {"title": f.name, "url": fleet.url(f.name), "password": f.password,
             "group": "CapRover"}
            for f in fleet.fleet.instances
        ], password=VAULT_PASSWORD)
        yield fleet, vault


def gc_tui(*argv: str) -> int:
    """The CLI as the operator runs it, with no config file: every cap at its default."""
    return run(
        [*argv, "--group", "CapRover", "--yes", "--password-stdin"],
        stdin=io.StringIO(VAULT_PASSWORD + "\n"), stdout=io.StringIO(), stderr=io.StringIO(),
        base=Settings(deploy_timing=DEPLOY_TIMING, update_timing=UPDATE_TIMING),
    )


class TestTheCommandLine:
    """Without --concurrency or a config file: 8 deploys, 4 CapRover updates at a time."""

    def test_deploy(self, cli_fleet: tuple[FakeFleetThread, Path]) -> None:
        fleet, vault = cli_fleet
        fakes = fleet.fleet.instances
        fleet.hold_builds()
        codes: list[int] = []
        command = threading.Thread(target=lambda: codes.append(
            gc_tui("deploy", "--vault", str(vault), "--app", "explorer", "--image", NEW)))
        command.start()
        try:
            fleet.wait_until(building_at_least(fakes, 8))
            assert fleet.call(lambda: (building(fakes), deploys_received(fakes))) == (8, 8)
        finally:
            fleet.release_builds()
            command.join(timeout=60)
        assert codes == [0]
        assert fleet.call(lambda: deploys_received(fakes)) == 10
        assert most_rows_at_once(default_journal_path()) == 8

    def test_caprover_update(self, cli_fleet: tuple[FakeFleetThread, Path]) -> None:
        fleet, vault = cli_fleet
        fakes = fleet.fleet.instances
        assert gc_tui("caprover-update", "--vault", str(vault)) == 0
        assert fleet.call(lambda: [fake.version for fake in fakes]) == ["1.15.3"] * 10
        assert fleet.call(lambda: most_updating_at_once(fakes)) == 4
        assert most_rows_at_once(default_journal_path()) == 4
