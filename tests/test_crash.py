"""A deploy killed with SIGKILL, then settled with one command.

The fakes hold every build until the test releases it, so the kill lands exactly where the
test wants it: while the k-th instance builds. Afterwards ``gc-tui log --reconcile`` must
give each row the state the fakes' own record implies: built after the run started -> done,
a build that failed -> failed, never received -> cancelled. No row stays unknown and no row
is done that a server did not build.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
from functools import partial
from pathlib import Path

import pytest

from gc_tui.cli import run
from gc_tui.core.journal import read_journal
from gc_tui.demo.fleet import FakeFleetThread
from tests.fakefleet import FAST, builds_settled, fake_app, fake_instance
from tests.vaults import make_vault

PASSWORD = "crash-vault-pw"
OLD, NEW = "repo/explorer:1", "repo/explorer:2"
NAMES = ("acme", "bravo", "charlie")


def reconcile(vault: Path, state: Path) -> tuple[int, dict[str, dict[str, object]]]:
    out, err = io.StringIO(), io.StringIO()
    os.environ["GC_TUI_STATE_DIR"] = str(state)
    code = run(["log", "--reconcile", "--format", "json", "--vault", str(vault), "--group", "G",
                "--password-stdin"], stdin=io.StringIO(PASSWORD + "\n"), stdout=out, stderr=err)
    rows = {row["instance"]: row for row in json.loads(out.getvalue())["rows"]}
    return code, rows


@pytest.mark.parametrize(
    ("kill_at", "build_fails", "in_flight"),
    [(1, False, False), (2, False, False), (2, True, False), (2, False, True)],
)
def test_a_killed_deploy_is_settled_from_the_servers_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kill_at: int, build_fails: bool,
    in_flight: bool,
) -> None:
    """``in_flight``: killed while the kill_at-th deploy is on the server, unanswered."""
    fakes = [fake_instance(name, apps=[fake_app("explorer", OLD, 2)], **FAST) for name in NAMES]
    state = tmp_path / "state"
    monkeypatch.setenv("GC_TUI_STATE_DIR", str(state))
    with FakeFleetThread(fakes) as fleet:
        entries = [{"title": name, "url": fleet.url(name),
                    "password": fleet.instance(name).password, "group": "G"} for name in NAMES]
        vault = make_vault(tmp_path / "fleet.kdbx", entries, password=PASSWORD)
        fleet.hold_builds()
        process = subprocess.Popen(
            [sys.executable, "-m", "gc_tui", "deploy", "--vault", str(vault), "--group", "G",
             "--app", "explorer", "--image", NEW, "--yes", "--concurrency", "1",
             "--password-stdin"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            text=True, env={**os.environ, "GC_TUI_STATE_DIR": str(state)},
        )
        assert process.stdin is not None
        process.stdin.write(PASSWORD + "\n")
        process.stdin.close()
        # Instances go one after the other (concurrency 1); release each build until the
        # kill_at-th deploy is on the server and held there.
        def deploys_arrived(count: int) -> bool:
            return len(fleet.fleet.deploy_requests()) >= count

        def deploys_arrived_and_held(count: int) -> bool:
            return deploys_arrived(count) and any(f.held_builds() for f in fakes)

        for k in range(1, kill_at + 1):
            if in_flight and k == kill_at:
                # The server reads this deploy at once and answers it after a while, as a
                # slow one would: the process dies with the request sent and unanswered.
                fleet.wait_until(partial(deploys_arrived, k))
                break
            fleet.wait_until(partial(deploys_arrived_and_held, k))
            if k < kill_at:
                if in_flight and k + 1 == kill_at:
                    fakes[k].latency_seconds = 1.0
                fleet.release_builds()
                fleet.hold_builds()
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        if in_flight:  # what the server does with a request whose sender died
            fleet.wait_until(lambda: bool(fakes[kill_at - 1].held_builds()))
        fleet.release_builds(fail=build_fails)  # the server finishes what it had
        fleet.wait_until(lambda: builds_settled(*fakes))
        received = [deploy.instance for deploy in fleet.deploy_requests()]
        code, rows = reconcile(vault, state)

    assert received == list(NAMES[:kill_at])
    (crashed,) = read_journal(state / "deploys.jsonl").runs
    settled = {row.instance: row.state for row in crashed.rows.values()}
    for name in NAMES:
        if name not in received:
            # Never left this machine: the journal shows it never reached "sending".
            assert settled[name] == "cancelled" and "never sent" in str(rows[name]["error"])
        elif name == received[-1]:
            # The one building when the process died: the server's record decides.
            assert settled[name] == ("failed" if build_fails else "done"), rows[name]
        else:
            assert settled[name] == "done"  # finished before the kill, journaled then
    assert all(row.settled for row in crashed.rows.values())
    every_done = kill_at == len(NAMES) and not build_fails
    assert code == (0 if every_done else 1)


def test_ctrl_c_that_splits_a_group_names_it_in_the_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One Ctrl-C while the first Windmill member builds: that build ends, the other two are
    never sent, and the result says the group is left split (issue 15)."""
    old, new = "ghcr.io/windmill-labs/windmill:1.775.2", "ghcr.io/windmill-labs/windmill:1.780.1"
    members = ("windmill", "windmill-worker", "windmill-worker-native")
    fake = fake_instance("acme", apps=[fake_app(app, old, 2) for app in members], **FAST)
    state = tmp_path / "state"
    monkeypatch.setenv("GC_TUI_STATE_DIR", str(state))
    with FakeFleetThread([fake]) as fleet:
        entries = [{"title": "acme", "url": fleet.url("acme"), "password": fake.password,
                    "group": "G"}]
        vault = make_vault(tmp_path / "fleet.kdbx", entries, password=PASSWORD)
        fleet.hold_builds()
        process = subprocess.Popen(
            [sys.executable, "-m", "gc_tui", "deploy", "--vault", str(vault), "--group", "G",
             "--app", "windmill", "--image", new, "--yes", "--password-stdin"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env={**os.environ, "GC_TUI_STATE_DIR": str(state)},
        )
        assert process.stdin is not None
        process.stdin.write(PASSWORD + "\n")
        process.stdin.close()
        fleet.wait_until(lambda: bool(fake.held_builds()))  # the first member is building
        process.send_signal(signal.SIGINT)
        assert process.stderr is not None
        # The interrupt is acknowledged before the build is let go, so nothing new starts.
        seen = [process.stderr.readline()]
        while seen[-1] and "interrupted" not in seen[-1]:
            seen.append(process.stderr.readline())
        fleet.release_builds()
        err = "".join(seen) + process.stderr.read()
        process.wait(timeout=60)
        sent = [deploy.app for deploy in fleet.deploy_requests()]
    assert sent == ["windmill"]
    assert "warning: group windmill on acme is split: 2 cancelled, 1 done" in err
    assert process.returncode == 130  # interrupted
