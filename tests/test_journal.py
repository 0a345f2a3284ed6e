"""The deploy journal: every transition appended and fsynced, ``sending`` on disk before the
request reaches the server, runs never mixed, concurrent writers never interleaved."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

from gc_tui.core.audit import audit_fleet
from gc_tui.core.deploy import DeployEngine, DeployTiming
from gc_tui.core.engine import RowState
from gc_tui.core.http import HttpSettings
from gc_tui.core.journal import Journal, read_journal
from gc_tui.core.model import Instance
from gc_tui.core.plan import DeployTarget, build_plan
from gc_tui.core.secret import Secret
from gc_tui.core.session import FleetSession
from gc_tui.demo.fleet import FakeFleet
from tests.fakefleet import fake_app, fake_instance, running_fleet

CLIENT = HttpSettings(connect_timeout=2, read_timeout=2, request_deadline=3)
TIMING = DeployTiming(poll_interval=0.02, settle_seconds=0.05, busy_retry_first=0.05)


def entries(fleet: FakeFleet) -> list[Instance]:
    return [Instance(f.name, fleet.url(f.name), Secret(f.password)) for f in fleet.instances]


class TestTransitions:
    """Each row's states, in order, as separate fsynced records of one run."""

    async def test_sending_is_on_disk_before_the_server_has_it(self, tmp_path: Path) -> None:
        journal = Journal(tmp_path / "deploys.jsonl")
        fake = fake_instance("acme", apps=[fake_app("explorer", "repo/explorer:1")])
        on_disk_when_received: list[list[str]] = []
        record = fake.record

        def record_and_look(method: str, path: str, query: dict[str, str], body: object) -> None:
            if method == "POST" and "appData" in path:
                # The server has the request now: what did the journal hold at that moment?
                (run,) = read_journal(journal.path).runs
                on_disk_when_received.append(list(run.rows["acme/explorer"].states))
            record(method, path, query, body)

        fake.record = record_and_look  # type: ignore[method-assign]
        async with running_fleet(fake) as fleet:
            async with FleetSession(entries(fleet), CLIENT) as session:
                plan = build_plan(await audit_fleet(session),
                                  [DeployTarget("acme", "explorer", "repo/explorer:2")])
                engine = DeployEngine(session, plan, timing=TIMING, journal=journal)
                (result,) = await engine.run()
        assert result.state is RowState.DONE
        assert on_disk_when_received == [["planned", "sending"]]
        (run,) = read_journal(journal.path).runs
        assert run.run_id == engine.run_id and run.action == "deploy"
        assert run.rows["acme/explorer"].states == [
            "planned", "sending", "sent", "building", "verifying", "done"
        ]
        # The run (its planned rows), then one record per transition; never more fsyncs.
        records = [json.loads(line) for line in journal.path.read_text().splitlines()]
        assert len(records) == 1 + 5 and 1 < journal.fsyncs <= len(records)

    async def test_rows_sending_together_share_fsyncs(self, tmp_path: Path) -> None:
        """A group commit: 30 rows reaching ``sending`` at once are not 30 waits on the disk."""
        journal = Journal(tmp_path / "deploys.jsonl")
        fakes = [fake_instance(f"site{n}", f"pw{n}", apps=[fake_app("explorer", "repo/e:1")])
                 for n in range(30)]
        async with running_fleet(*fakes) as fleet:
            async with FleetSession(entries(fleet), CLIENT) as session:
                plan = build_plan(await audit_fleet(session),
                                  [DeployTarget(f.name, "explorer", "repo/e:2") for f in fakes])
                results = await DeployEngine(session, plan, timing=TIMING, journal=journal,
                                             concurrency=30).run()
        assert [r.state for r in results] == [RowState.DONE] * 30
        contents = read_journal(journal.path)
        (run,) = contents.runs
        assert all(row.states[:2] == ["planned", "sending"] for row in run.rows.values())
        records = journal.path.read_text().splitlines()
        assert len(records) == 1 + 30 * 5
        assert journal.fsyncs < len(records) / 2

    async def test_an_unwritable_journal_sends_nothing(self, tmp_path: Path) -> None:
        in_the_way = tmp_path / "state"
        in_the_way.write_text("a file where the journal's folder should be")
        journal = Journal(in_the_way / "deploys.jsonl")
        fake = fake_instance("acme", apps=[fake_app("explorer", "repo/explorer:1")])
        async with running_fleet(fake) as fleet:
            async with FleetSession(entries(fleet), CLIENT) as session:
                plan = build_plan(await audit_fleet(session),
                                  [DeployTarget("acme", "explorer", "repo/explorer:2")])
                (result,) = await DeployEngine(session, plan, timing=TIMING,
                                               journal=journal).run()
        assert result.state is RowState.FAILED
        assert result.error is not None
        assert f"the deploy journal {journal.path} cannot be written" in result.error
        assert result.error.endswith("never sent")
        assert fake.deploy_requests() == []

    async def test_a_journal_lost_mid_run_stops_the_next_row_before_it_is_sent(
        self, tmp_path: Path
    ) -> None:
        folder = tmp_path / "state"
        journal = Journal(folder / "deploys.jsonl")
        first = fake_instance("a-first", "pw1", apps=[fake_app("explorer", "repo/explorer:1")])
        second = fake_instance("b-second", "pw2", apps=[fake_app("explorer", "repo/explorer:1")])
        record = first.record

        def lose_the_journal(method: str, path: str, query: dict[str, str], body: object) -> None:
            if method == "POST" and "appData" in path and folder.is_dir():
                # The disk goes away while the first deploy is on the server.
                folder.rename(tmp_path / "gone")
                folder.write_text("not a folder any more")
            record(method, path, query, body)

        first.record = lose_the_journal  # type: ignore[method-assign]
        async with running_fleet(first, second) as fleet:
            async with FleetSession(entries(fleet), CLIENT) as session:
                plan = build_plan(await audit_fleet(session), [
                    DeployTarget("a-first", "explorer", "repo/explorer:2"),
                    DeployTarget("b-second", "explorer", "repo/explorer:2"),
                ])
                results = {r.instance: r for r in await DeployEngine(
                    session, plan, timing=TIMING, journal=journal, concurrency=1).run()}
        assert results["a-first"].state is RowState.DONE  # it was sent; the server finished it
        assert results["b-second"].state is RowState.FAILED
        assert "cannot be written" in (results["b-second"].error or "")
        assert second.deploy_requests() == []

    async def test_a_refused_deploy_is_not_sent(self, tmp_path: Path) -> None:
        journal = Journal(tmp_path / "deploys.jsonl")
        fake = fake_instance("acme", apps=[fake_app("explorer", "repo/explorer:1")])
        async with running_fleet(fake) as fleet:
            async with FleetSession(entries(fleet), CLIENT) as session:
                plan = build_plan(await audit_fleet(session),
                                  [DeployTarget("acme", "explorer", "repo/explorer:2")])
                fake.apps.clear()  # the app is deleted between the audit and the deploy
                (result,) = await DeployEngine(session, plan, timing=TIMING,
                                               journal=journal).run()
        assert result.state is RowState.FAILED and "could not be found" in (result.error or "")
        (run,) = read_journal(journal.path).runs
        assert run.rows["acme/explorer"].states == ["planned", "sending", "not sent", "failed"]

    def test_runs_never_mix(self, tmp_path: Path) -> None:
        journal = Journal(tmp_path / "deploys.jsonl")
        for run_id in ("first", "second"):
            journal.append({"type": "run", "run": run_id, "action": "deploy",
                            "rows": [{"instance": "a", "app": "web", "from_image": "x:1",
                                      "to_image": "x:2"}]})
        journal.append({"type": "row", "run": "first", "instance": "a", "app": "web",
                        "state": "sending"})
        journal.append({"type": "row", "run": "second", "instance": "a", "app": "web",
                        "state": "cancelled", "error": "never sent"})
        runs = {run.run_id: run for run in read_journal(journal.path).runs}
        assert runs["first"].rows["a/web"].state == "sending"
        assert [row.key for row in runs["first"].unsettled] == ["a/web"]
        assert runs["second"].rows["a/web"].state == "cancelled"
        assert runs["second"].unsettled == []

    def test_a_broken_line_is_counted_and_skipped(self, tmp_path: Path) -> None:
        journal = Journal(tmp_path / "deploys.jsonl")
        journal.append({"type": "run", "run": "r", "action": "deploy", "rows": []})
        with journal.path.open("a") as handle:
            handle.write('{"type": "row", "run": "r", "instance": "a", "app"\n')
        contents = read_journal(journal.path)
        assert contents.unreadable_lines == 1 and [r.run_id for r in contents.runs] == ["r"]


    def test_half_a_line_left_by_a_cut_write_does_not_swallow_the_next_record(
        self, tmp_path: Path
    ) -> None:
        journal = Journal(tmp_path / "deploys.jsonl")
        journal.append({"type": "run", "run": "old", "action": "deploy", "rows": []})
        with journal.path.open("a") as handle:
            handle.write('{"type": "row", "run": "old", "inst')  # a full disk, a kill: no newline
        journal.append({"type": "run", "run": "next", "action": "deploy",
                        "rows": [{"instance": "a", "app": "web", "from_image": "x:1",
                                  "to_image": "x:2"}]})
        contents = read_journal(journal.path)
        assert contents.unreadable_lines == 1
        runs = {run.run_id: run for run in contents.runs}
        assert runs["next"].rows["a/web"].to_image == "x:2"


def _writer(path: str, name: str, count: int) -> None:
    journal = Journal(Path(path))
    for n in range(count):
        journal.append({"type": "row", "run": name, "instance": f"i{n}", "app": "a" * 3000,
                        "state": "sending"})


def test_two_processes_writing_at_once_never_interleave(tmp_path: Path) -> None:
    """Long lines (over the pipe atomicity size) from two processes: all whole, none lost."""
    path = tmp_path / "deploys.jsonl"
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=_writer, args=(str(path), name, 200)) for name in "ab"]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(60)
        assert writer.exitcode == 0
    lines = path.read_text().splitlines()
    records = [json.loads(line) for line in lines]  # every line is one whole record
    assert len(records) == 400
    assert {run: sum(1 for r in records if r["run"] == run) for run in "ab"} == {"a": 200, "b": 200}
