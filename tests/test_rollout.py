"""The release process end to end on the demo fleet: sign off staging by pinning its images,
roll them out with --to-targets, and a second audit shows every reachable app on target."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from gc_tui.cli import run
from gc_tui.core.deploy import DeployTiming
from gc_tui.core.journal import read_journal
from gc_tui.demo.catalog import demo_instances, demo_vault_entries
from gc_tui.demo.demo_vault import write_demo_vault
from gc_tui.demo.fleet import FakeFleetThread
from gc_tui.settings import Settings

PASSWORD = "rollout-vault-pw"
TIMING = DeployTiming(poll_interval=0.02, settle_seconds=0.1, busy_retry_first=0.05)
# Not deployable by design: the operator's call, not the batch's. "ahead" is kestrelbay's
# Filebrowser pinned newer than staging's: a batch never downgrades.
LEFT_ALONE = {"manual", "held", "unmanaged", "missing", "ahead"}


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(
        [*argv, "--password-stdin"],
        stdin=io.StringIO(PASSWORD + "\n"),
        stdout=out,
        stderr=err,
        base=Settings(deploy_timing=TIMING),
    )
    return code, out.getvalue(), err.getvalue()


def test_pin_then_deploy_to_targets(tmp_path: Path) -> None:
    fakes = demo_instances(build_seconds=0.05, service_update_seconds=0.05)
    with FakeFleetThread(fakes) as fleet:
        vault = tmp_path / "fleet.kdbx"
        write_demo_vault(vault, demo_vault_entries(fleet.urls()), PASSWORD)
        targets = tmp_path / "targets.toml"
        flags = ["--vault", str(vault), "--group", "CapRover"]

        code, _, err = cli(
            "targets", "pin", "--from-instance", "staging", *flags, "--targets", str(targets),
            "--include-unmanaged", "--yes",
        )
        assert code == 0, err
        code, out, err = cli("deploy", "--to-targets", *flags, "--targets", str(targets), "--yes",
                             "--format", "json")
        rows = json.loads(out)["rows"]
        assert [r for r in rows if r["state"] not in ("done", "skipped")] == []
        code, out, err = cli("audit", *flags, "--targets", str(targets), "--format", "json")

    after = json.loads(out)["instances"]
    for instance in after:
        if instance["status"] != "ok":
            continue
        off_target = [
            (a["app"], a["state"])
            for a in instance["apps"]
            if a["state"] not in LEFT_ALONE | {"current"}
        ]
        assert off_target == [], instance["name"]
    # What the servers received is exactly the rows reported done.
    done = {(r["instance"], r["app"], r["to_image"]) for r in rows if r["state"] == "done"}
    sent = {(f.name, app, image) for f in fakes for app, image in f.deploy_requests()}
    assert sent == done and len(done) > 20


def test_a_new_targets_file_keeps_the_config_s_holds(tmp_path: Path) -> None:
    # Review (helper): a targets file's [hold] wins over the config's, and pinning into a
    # new file wrote the default (postgres alone): redis, held by the config, then joined
    # the next --to-targets.
    from gc_tui.core.targets import load_targets

    fakes = demo_instances(build_seconds=0.05, service_update_seconds=0.05)
    with FakeFleetThread(fakes) as fleet:
        vault = tmp_path / "fleet.kdbx"
        write_demo_vault(vault, demo_vault_entries(fleet.urls()), PASSWORD)
        config = tmp_path / "config.toml"
        config.write_text('hold_repositories = ["postgres", "redis"]\n', encoding="utf-8")
        targets = tmp_path / "targets.toml"
        code, _, err = cli(
            "targets", "pin", "--from-instance", "staging", "--vault", str(vault), "--group",
            "CapRover", "--config", str(config), "--targets", str(targets),
            "--include-unmanaged", "--yes",
        )
    assert code == 0, err
    assert set(load_targets(targets).hold_repositories) == {"postgres", "redis"}


def test_ctrl_c_starts_nothing_new_and_logs_every_row(tmp_path: Path) -> None:
    """A real process, a real SIGINT: what was building finishes, the rest is cancelled."""
    fakes = demo_instances(build_seconds=0.4, service_update_seconds=0.05)
    with FakeFleetThread(fakes) as fleet:
        vault = tmp_path / "fleet.kdbx"
        write_demo_vault(vault, demo_vault_entries(fleet.urls()), PASSWORD)
        state = tmp_path / "state"
        process = subprocess.Popen(
            [
                sys.executable, "-m", "gc_tui", "deploy", "--vault", str(vault), "--group",
                "CapRover", "--instance", "bluecanyon", "--app", "superset", "--app", "windmill",
                "--image", "communityfirst/superset-deployment:6.1.0_20260901-0000", "--yes",
                "--password-stdin",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "GC_TUI_STATE_DIR": str(state)},
        )
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(PASSWORD + "\n")
        process.stdin.close()
        lines = []
        for line in process.stdout:
            lines.append(line)
            if ": building" in line:
                process.send_signal(signal.SIGINT)
                break
        lines.append(process.stdout.read())
        assert process.stderr is not None
        err = process.stderr.read()
        process.wait(timeout=60)
        blue = fleet.instance("bluecanyon")
    output = "".join(lines)
    assert process.returncode == 130, err  # interrupted, as the README's table says
    assert "starting nothing new" in err
    (run,) = read_journal(state / "deploys.jsonl").runs
    states = sorted(row.state for row in run.rows.values())
    assert len(states) == 6
    assert states.count("done") == 1 and states.count("cancelled") == 5
    assert all("never sent" in (row.error or "") for row in run.rows.values()
               if row.state == "cancelled")
    assert len(blue.deploy_requests()) == 1
    assert "cancelled" in output


def test_ctrl_c_twice_stops_now_and_labels_every_row_truthfully(tmp_path: Path) -> None:
    """The second Ctrl-C stops following the build in flight: that row may still finish on
    the server and says so; the rows never sent say that. Nothing else reaches stderr."""
    fakes = demo_instances(build_seconds=0.05, service_update_seconds=0.05)
    with FakeFleetThread(fakes) as fleet:
        fleet.hold_builds()  # the first build waits until the test has pressed Ctrl-C twice
        vault = tmp_path / "fleet.kdbx"
        write_demo_vault(vault, demo_vault_entries(fleet.urls()), PASSWORD)
        state = tmp_path / "state"
        process = subprocess.Popen(
            [
                sys.executable, "-m", "gc_tui", "deploy", "--vault", str(vault), "--group",
                "CapRover", "--instance", "bluecanyon", "--app", "superset",
                "--image", "communityfirst/superset-deployment:6.1.0_20260901-0000", "--yes",
                "--password-stdin",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "GC_TUI_STATE_DIR": str(state)},
        )
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(PASSWORD + "\n")
        process.stdin.close()
        for line in process.stdout:
            if ": building" in line:
                process.send_signal(signal.SIGINT)
                break
        assert process.stderr is not None
        first = process.stderr.readline()
        assert "starting nothing new" in first
        process.send_signal(signal.SIGINT)
        output = process.stdout.read()
        err = first + process.stderr.read()
        process.wait(timeout=60)
        fleet.release_builds()
    assert process.returncode == 130, err  # interrupted, as the README's table says
    assert "Traceback" not in err and "Warning" not in err and "never awaited" not in err
    (run,) = read_journal(state / "deploys.jsonl").runs
    errors = {row.app: row.error or "" for row in run.rows.values()}
    assert set(run_state for run_state in (row.state for row in run.rows.values())) == {
        "cancelled"
    }
    assert "interrupted while building" in errors["superset"]
    assert "never sent" in errors["superset-worker"]
    assert "never sent" in errors["superset-init-and-beat"]
    assert "interrupted while building" in output
