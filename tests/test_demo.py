"""`gc-tui demo ...` runs the real commands on the demo fleet, whose scenarios are the table in
docs/guardian-connector.md#scenarios: the states gc-tui reports must tell the same story."""

from __future__ import annotations

import csv
import io
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from gc_tui.cli import run
from tests.demo_data import SCENARIO_DIFFERING, demo_fleet_data

ON_TARGET_OR_OUT_OF_SCOPE = {"current", "held", "unmanaged", "missing"}


def demo(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(["demo", *argv], stdin=io.StringIO(""), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def audit_json() -> dict[str, Any]:
    code, out, err = demo("audit", "--format", "json")
    assert code == 1, err  # two demo instances do not answer, on purpose
    answer: dict[str, Any] = json.loads(out)
    return answer


def test_the_states_tell_the_scenarios_story(audit_json: dict[str, Any]) -> None:
    targets = demo_fleet_data()["target_images"]
    by_name = {i["name"]: i for i in audit_json["instances"]}
    assert by_name["fernridge"]["status"] == "unreachable"
    assert by_name["graniteflats"]["status"] == "auth_failed"
    for name, expected in SCENARIO_DIFFERING.items():
        apps = by_name[name]["apps"]
        differing = [
            a for a in apps if a["app"] in targets and a["state"] not in ON_TARGET_OR_OUT_OF_SCOPE
        ]
        assert len(differing) == expected, (name, [(a["app"], a["state"]) for a in differing])
    states = {name: Counter(a["state"] for a in i["apps"]) for name, i in by_name.items()}
    assert states["cedarmesa"]["manual"] == 2
    assert states["ironwood"]["missing"] == 2 and states["ironwood"]["floating"] == 1
    assert states["ironwood"]["other-repo"] == 1
    assert states["junipercreek"]["unmanaged"] >= 2
    assert by_name["emberfalls"]["caprover_version"] == "1.13.1"
    assert by_name["emberfalls"]["caprover_can_update"] is True


def test_csv_carries_the_same_states(audit_json: dict[str, Any]) -> None:
    code, out, err = demo("audit", "--format", "csv")
    assert code == 1, err  # as the JSON: two demo instances do not answer
    rows = list(csv.DictReader(io.StringIO(out)))
    from_csv = {(r["instance"], r["app"]): r["state"] for r in rows if r["app"]}
    from_json = {
        (i["name"], a["app"]): a["state"] for i in audit_json["instances"] for a in i["apps"]
    }
    assert from_csv == from_json


def test_the_table_fits_100_columns_with_states() -> None:
    code, out, err = demo("audit")
    assert code == 1, err
    assert max(len(line) for line in out.splitlines()) <= 100
    assert "other-repo" in out and "missing" in out


def test_the_demo_knows_what_is_new_upstream_for_every_app() -> None:
    """The demo's own registries answer for every app: NEWEST is never blank but for server
    builds, and every upstream state the demo means to show is there."""
    code, out, err = demo("audit", "--upstream", "--format", "json")
    assert code == 1, err
    apps = [a for i in json.loads(out)["instances"] for a in i["apps"]]
    assert apps
    for app in apps:
        if app["upstream"] == "manual" or app["state"] == "missing":
            continue
        assert app["newest"], app
        assert app["upstream_error"] is None, app
    states = Counter(a["upstream"] for a in apps)
    assert {"current", "behind", "repushed", "floating", "manual"} <= set(states)


def test_upstream_says_which_instances_it_could_not_read() -> None:
    # Review (helper): gc-tui upstream exited 0 and said nothing of fernridge and graniteflats,
    # whose repositories were then simply missing from the list.
    code, out, err = demo("upstream", "--format", "json")
    assert code == 1  # as the README says: an instance did not answer
    assert json.loads(out)["repositories"]
    assert "fernridge did not answer" in err and "graniteflats did not answer" in err
    code, _, err = demo("upstream", "--instance", "staging")
    assert code == 0 and "did not answer" not in err


def test_the_demo_deploys_to_newest() -> None:
    code, out, err = demo("deploy", "--to-newest", "--instance", "kestrelbay", "--dry-run",
                          "--format", "json")
    assert code == 0, err
    planned = {r["app"]: r["to_image"] for r in json.loads(out)["rows"] if r["state"] == "planned"}
    assert planned["explorer"] == "communityfirst/guardianconnector-explorer:20260815-1002"
    assert planned["comapeo"] == "communityfirst/gc-comapeo-cloud:0.4.0"  # 0.3.0 is behind
    code, out, err = demo("deploy", "--to-newest", "--dry-run", "--format", "json")
    assert {r["instance"] for r in json.loads(out)["rows"] if r["app"] == "*"} == {
        "fernridge", "graniteflats"}


def test_a_fleet_wide_deploy_names_the_instances_it_could_not_audit() -> None:
    # --to-targets picks apps from what each instance runs; one that did not answer has
    # nothing to pick, and the monthly round must still say it was left out (and why).
    code, out, err = demo("deploy", "--to-targets", "--dry-run", "--format", "json")
    assert code == 0, err
    rows = json.loads(out)["rows"]
    unreached = {r["instance"]: r["error"] for r in rows if r["app"] == "*"}
    assert set(unreached) == {"fernridge", "graniteflats"}
    assert unreached["fernridge"].startswith("instance failed the audit: cannot connect")
    assert "2 on instances that failed the audit" in err
    assert "skip fernridge: instance failed the audit" in err
    # Nothing to deploy, but not because the fleet is done: a script hears it.
    code, _, err = demo("deploy", "--to-targets", "--instance", "fernridge", "--yes")
    assert code == 1 and "nothing to deploy" in err


def test_the_demo_s_note_outlives_its_run() -> None:
    # Each gc-tui demo is a fresh fleet, but the journal is kept (beside the operator's,
    # never in it), so the README's "gc-tui demo log --last --format markdown" has a run.
    from gc_tui.core.journal import default_journal_path

    code, _, err = demo("deploy", "--app", "explorer", "--instance", "kestrelbay", "--image",
                        "communityfirst/guardianconnector-explorer:20260815-1002", "--yes")
    assert code == 0, err
    code, out, err = demo("log", "--last", "--format", "markdown")
    assert code == 0, err
    assert "20260815-1002" in out and "kestrelbay" in out
    assert not default_journal_path().exists()


def test_the_demo_cache_forgets_vaults_unused_for_a_day(tmp_path: Path) -> None:
    import os

    from gc_tui.demo.environment import _vault_for, cache_dir

    cache_dir().mkdir(parents=True, exist_ok=True)
    stale, recent = cache_dir() / "demo-0.1.0-old.kdbx", cache_dir() / "demo-0.1.0-new.kdbx"
    for path in (stale, recent):
        path.write_bytes(b"left by another port or version")
    two_days_ago = time.time() - 2 * 86400
    os.utime(stale, (two_days_ago, two_days_ago))
    made = _vault_for({"staging": "http://127.0.0.1:1"}, tmp_path)
    assert made.parent == cache_dir() and made.is_file()
    assert not stale.exists()
    assert recent.exists()  # another demo may be about to read it
