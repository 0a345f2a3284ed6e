"""``gc-tui log``: the journal's runs without a vault, and ``--reconcile`` against the servers."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gc_tui.cli import run
from gc_tui.core.deploy import DeployTiming
from gc_tui.core.journal import Journal, default_journal_path, now_iso, read_journal
from gc_tui.demo.fleet import FakeFleetThread
from gc_tui.settings import Settings
from tests.fakefleet import FAST, deploy, fake_app, fake_instance, login
from tests.vaults import make_vault

PASSWORD = "log-vault-pw"
OLD, NEW, BROKEN = "repo/explorer:1", "repo/explorer:2", "repo/explorer:missing-3"
NAMES = ("acme", "bravo", "charlie", "delta")
BASE = Settings(deploy_timing=DeployTiming(poll_interval=0.02, settle_seconds=0.05))


def gc_tui(*argv: str, vault: Path | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    flags = ["--vault", str(vault), "--group", "G", "--password-stdin"] if vault else []
    code = run([*argv, *flags], stdin=io.StringIO(PASSWORD + "\n"), stdout=out, stderr=err,
               base=BASE)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def fleet() -> Iterator[FakeFleetThread]:
    fakes = [fake_instance(name, apps=[fake_app("explorer", OLD, 2)], **FAST) for name in NAMES]
    with FakeFleetThread(fakes) as running:
        yield running


@pytest.fixture
def vault(fleet: FakeFleetThread, tmp_path: Path) -> Path:
    entries = [{"title": f.name, "url": fleet.url(f.name), "password": f.password, "group": "G"}
               for f in fleet.fleet.instances]
    return make_vault(tmp_path / "fleet.kdbx", entries, password=PASSWORD)


class TestShowing:
    """Runs newest first with each row's last state; no vault needed."""

    def test_table_and_json_after_a_deploy(self, fleet: FakeFleetThread, vault: Path) -> None:
        code, _, err = gc_tui("deploy", "--app", "explorer", "--image", NEW, "--yes",
                              "--instance", "acme", vault=vault)
        assert code == 0, err
        code, out, _ = gc_tui("log", "--format", "json")
        assert code == 0
        (run_record,) = json.loads(out)["runs"]
        assert run_record["action"] == "deploy" and run_record["started_at"]
        assert run_record["rows"] == [{"instance": "acme", "app": "explorer", "from_image": OLD,
                                       "to_image": NEW, "state": "done", "error": None}]
        code, out, _ = gc_tui("log")
        assert f"run {run_record['run_id']}  deploy" in out and "done       acme / explorer" in out
        code, out, _ = gc_tui("log", "--unsettled", "--format", "json")
        assert json.loads(out) == {"runs": []}
        code, out, _ = gc_tui("log", "--unsettled")  # runs exist, none is open
        assert out.strip() == "(no unsettled rows)"
        code, out, err = gc_tui("log", "--run", "nope")
        assert code == 2 and "no run 'nope'" in err

    def test_reconcile_has_no_markdown(self) -> None:
        # Asked for a note while reconciling, it says so instead of printing a table.
        code, out, err = gc_tui("log", "--reconcile", "--format", "markdown")
        assert (code, out) == (2, "")
        assert "--reconcile prints a table or --format json" in err


def _crashed_run(fleet: FakeFleetThread) -> str:
    """A run as a kill -9 leaves it: rows at planned or sending, never finished."""
    journal = Journal(default_journal_path())
    journal.append({
        "type": "run", "run": "crashed", "action": "deploy",
        "rows": [{"instance": name, "app": "explorer", "from_image": OLD,
                  "to_image": BROKEN if name == "delta" else NEW} for name in NAMES],
        "skipped": [],
    })
    for name in ("acme", "charlie", "delta"):
        journal.append({"type": "row", "run": "crashed", "instance": name, "app": "explorer",
                        "state": "sending"})
    return now_iso()


async def _server_side(fleet: FakeFleetThread) -> None:
    """What the servers did with the requests the dead process had sent."""
    async with httpx.AsyncClient() as client:
        for name, image in (("acme", NEW), ("delta", BROKEN)):
            url = fleet.url(name)
            token = await login(client, url, fleet.instance(name).password)
            response = await deploy(client, url, token, "explorer", image)
            assert response.json()["status"] == 101


class TestReconcile:
    """Each unsettled row gets the state the servers' own record implies."""

    def test_every_row_settled_from_the_servers(self, fleet: FakeFleetThread, vault: Path) -> None:
        import asyncio

        _crashed_run(fleet)
        asyncio.run(_server_side(fleet))  # acme got NEW; delta's build fails; charlie: nothing
        for name in ("acme", "delta"):
            fake = fleet.instance(name)
            asyncio.run(_wait_built(fleet, name))
            assert fake.app("explorer") is not None
        code, out, err = gc_tui("log", "--reconcile", "--format", "json", vault=vault)
        rows = {row["instance"]: row for row in json.loads(out)["rows"]}
        assert rows["acme"]["state"] == "done"
        assert rows["bravo"]["state"] == "cancelled" and "never sent" in rows["bravo"]["error"]
        assert rows["charlie"]["state"] == "failed"
        assert rows["charlie"]["error"] == "no trace on the server"
        assert rows["delta"]["state"] == "failed" and "build failed" in rows["delta"]["error"]
        assert code == 1  # not every row ended done
        # Appended, never rewritten: the journal now says the same, and nothing is open.
        (crashed,) = read_journal().runs
        assert {row.instance: row.state for row in crashed.rows.values()} == {
            "acme": "done", "bravo": "cancelled", "charlie": "failed", "delta": "failed"
        }
        assert crashed.rows["acme/explorer"].states == ["planned", "sending", "done"]
        code, out, err = gc_tui("log", "--reconcile", vault=vault)
        assert code == 0 and "nothing to reconcile" in err


    def test_rows_cancelled_after_they_were_sent_stay_open_until_reconciled(
        self, fleet: FakeFleetThread, vault: Path
    ) -> None:
        # A second Ctrl-C, a quit or a lost terminal cancels rows the server already has
        # (helper review): 'cancelled' must not read as settled, or --reconcile skips them.
        import asyncio

        journal = Journal(default_journal_path())
        journal.append({"type": "run", "run": "stopped", "action": "deploy",
                        "rows": [{"instance": name, "app": "explorer", "from_image": OLD,
                                  "to_image": NEW} for name in ("acme", "bravo")],
                        "skipped": []})
        for state in ("sending", "sent", "building", "cancelled"):
            journal.append({"type": "row", "run": "stopped", "instance": "acme",
                            "app": "explorer", "state": state})
        journal.append({"type": "row", "run": "stopped", "instance": "bravo",
                        "app": "explorer", "state": "cancelled", "error": "never sent"})
        asyncio.run(_server_side(fleet))  # acme's build went on after the process stopped
        asyncio.run(_wait_built(fleet, "acme"))
        code, out, _ = gc_tui("log", "--unsettled", "--format", "json")
        (run,) = json.loads(out)["runs"]
        assert [row["instance"] for row in run["rows"]] == ["acme"]
        code, out, _ = gc_tui("log", "--reconcile", "--format", "json", vault=vault)
        assert [(row["instance"], row["state"]) for row in json.loads(out)["rows"]] == [
            ("acme", "done")]
        assert code == 1  # bravo never went out: the run did not end all done


    def test_a_journal_that_cannot_take_the_settlements_still_shows_them(
        self, fleet: FakeFleetThread, vault: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # A full disk cannot be made here: the write itself fails as ENOSPC would.
        import errno

        _crashed_run(fleet)

        def full(self: Journal, data: bytes) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(Journal, "_write", full)
        code, out, err = gc_tui("log", "--reconcile", vault=vault)
        assert code == 1
        assert "cancelled  bravo / explorer" in out  # what the servers said is printed
        assert "could not be journaled" in err and "No space left on device" in err
        assert "unexpected error" not in err


    def test_a_server_clock_behind_this_machine_s_does_not_hide_the_run_s_build(
        self, fleet: FakeFleetThread, vault: Path
    ) -> None:
        # Review (helper): versions were the run's only when stamped after its start by this
        # machine's clock; a server a little behind had its new build read as "no trace".
        import asyncio
        from datetime import UTC, datetime, timedelta

        ahead = (datetime.now(UTC) + timedelta(minutes=2)).isoformat().replace("+00:00", "Z")
        journal = Journal(default_journal_path())
        journal.append({"type": "run", "run": "skewed", "action": "deploy", "at": ahead,
                        "rows": [{"instance": "acme", "app": "explorer", "from_image": OLD,
                                  "to_image": NEW, "from_version": 1}], "skipped": []})
        journal.append({"type": "row", "run": "skewed", "instance": "acme", "app": "explorer",
                        "state": "sending"})
        asyncio.run(_server_side(fleet))
        asyncio.run(_wait_built(fleet, "acme"))
        code, out, _ = gc_tui("log", "--reconcile", "--format", "json", vault=vault)
        assert [(row["instance"], row["state"]) for row in json.loads(out)["rows"]] == [
            ("acme", "done")]
        assert code == 0


    def test_a_group_a_kill_left_split_is_named_once_settled(
        self, fleet: FakeFleetThread, vault: Path
    ) -> None:
        # Review (helper): a killed run never reports its split groups itself, and reconcile
        # settled the members one by one without a word about the group.
        import asyncio

        journal = Journal(default_journal_path())
        journal.append({"type": "run", "run": "killed", "action": "deploy",
                        "rows": [{"instance": "acme", "app": app, "from_image": OLD,
                                  "to_image": NEW, "group": "explorers"}
                                 for app in ("explorer", "explorer-worker")], "skipped": []})
        journal.append({"type": "row", "run": "killed", "instance": "acme", "app": "explorer",
                        "state": "sending"})
        asyncio.run(_server_side(fleet))
        asyncio.run(_wait_built(fleet, "acme"))
        code, _, err = gc_tui("log", "--reconcile", vault=vault)
        message = "group explorers on acme is split: 1 done, 1 cancelled"
        assert code == 1 and f"warning: {message}" in err
        (killed,) = read_journal().runs
        assert [split["message"] for split in killed.splits] == [message]


async def _wait_built(fleet: FakeFleetThread, name: str) -> None:
    from tests.fakefleet import eventually

    fake = fleet.instance(name)
    await eventually(lambda: not fake.state.building.get("explorer"), attempts=500)
