"""What is new upstream, from the command line, against a real registry and fake CapRovers.

Debian's distribution 2.8 (tests/real_registry.py) stands in for Docker Hub through the
config's ``[registries."docker.io"] url``; the fake fleet runs images pushed there.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gc_tui.cli import run
from gc_tui.core.deploy import DeployTiming
from gc_tui.demo.fleet import FakeFleetThread
from gc_tui.settings import Settings
from tests.fakefleet import FAST, fake_app, fake_instance
from tests.real_registry import RealRegistry, free_port, real_registry
from tests.vaults import make_vault

PASSWORD = "upstream-vault-pw"
EXPLORER = "communityfirst/guardianconnector-explorer"
COMAPEO = "communityfirst/gc-comapeo-cloud"
BASE = Settings(deploy_timing=DeployTiming(poll_interval=0.02, settle_seconds=0.05))


def at(day: int, hour: int = 9) -> datetime:
    return datetime(2026, 8, day, hour, tzinfo=UTC)


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealRegistry]:
    with real_registry(tmp_path_factory.mktemp("registry")) as running:
        running.push(EXPLORER, "20260731-948", at(1))
        running.push(EXPLORER, "20260815-999", at(15))
        running.push(EXPLORER, "20260815-1002", at(15, 18))
        running.push(EXPLORER, "latest", at(15, 18))
        running.push(COMAPEO, "0.4.0", at(3))
        running.push(COMAPEO, "0.5.0-rc.1", at(4))
        yield running


@pytest.fixture
def fleet() -> Iterator[FakeFleetThread]:
    apps = [
        fake_app("explorer", f"{EXPLORER}:20260731-948", 2),
        fake_app("comapeo", f"{COMAPEO}:0.4.0", 2),
        fake_app("wildlife", "communityfirst/not-pushed:1.0.0", 1),
    ]
    with FakeFleetThread([fake_instance("acme", apps=apps, **FAST)]) as running:
        yield running


def setup(tmp_path: Path, fleet: FakeFleetThread, registry_url: str) -> list[str]:
    entry = {"title": "acme", "url": fleet.url("acme"), "password": fleet.instance("acme").password,
             "group": "G"}
    vault = make_vault(tmp_path / "fleet.kdbx", [entry], password=PASSWORD)
    config = tmp_path / "config.toml"
    config.write_text(f'[registries."docker.io"]\nurl = "{registry_url}"\n', encoding="utf-8")
    return ["--vault", str(vault), "--group", "G", "--config", str(config), "--password-stdin"]


def gc_tui(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(argv), stdin=io.StringIO(PASSWORD + "\n"), stdout=out, stderr=err, base=BASE)
    return code, out.getvalue(), err.getvalue()


def test_audit_upstream_json(
    tmp_path: Path, fleet: FakeFleetThread, registry: RealRegistry
) -> None:
    code, out, err = gc_tui("audit", "--upstream", "--format", "json",
                            *setup(tmp_path, fleet, registry.url))
    assert code == 0, err
    (acme,) = json.loads(out)["instances"]
    apps = {app["app"]: app for app in acme["apps"]}
    assert (apps["explorer"]["newest"], apps["explorer"]["upstream"]) == ("20260815-1002", "behind")
    # 0.5.0-rc.1 is a pre-release: it never counts as newer.
    assert (apps["comapeo"]["newest"], apps["comapeo"]["upstream"]) == ("0.4.0", "current")
    assert apps["explorer"]["upstream_error"] is None
    assert apps["wildlife"]["upstream"] == "unknown"
    assert apps["wildlife"]["upstream_error"] == "repository not found"


def test_deploy_to_newest_sends_what_is_behind(
    tmp_path: Path, fleet: FakeFleetThread, registry: RealRegistry
) -> None:
    code, out, err = gc_tui("deploy", "--to-newest", "--yes", "--format", "json",
                            *setup(tmp_path, fleet, registry.url))
    assert code == 0, err
    rows = json.loads(out)["rows"]
    assert [(r["app"], r["to_image"], r["state"]) for r in rows] == [
        ("explorer", f"{EXPLORER}:20260815-1002", "done")
    ]
    assert fleet.instance("acme").deploy_requests() == [("explorer", f"{EXPLORER}:20260815-1002")]


def test_upstream_lists_each_repository(
    tmp_path: Path, fleet: FakeFleetThread, registry: RealRegistry
) -> None:
    code, out, err = gc_tui("upstream", "--format", "json", *setup(tmp_path, fleet, registry.url))
    repositories = {r["repository"]: r for r in json.loads(out)["repositories"]}
    explorer = repositories[f"docker.io/{EXPLORER}"]
    assert explorer["newest"] == "20260815-1002" and explorer["tags"] == 4
    assert explorer["digest"].startswith("sha256:") and explorer["error"] is None
    assert repositories["docker.io/communityfirst/not-pushed"]["error"] == "repository not found"
    assert code == 1, err  # a repository could not be looked up


def test_targets_bump_shows_the_diff_then_writes(
    tmp_path: Path, fleet: FakeFleetThread, registry: RealRegistry
) -> None:
    flags = setup(tmp_path, fleet, registry.url)
    targets = tmp_path / "targets.toml"
    targets.write_text(f'[targets]\nexplorer = "{EXPLORER}:20260731-948"\n'
                       f'comapeo = "{COMAPEO}:0.4.0"\n', encoding="utf-8")
    code, out, err = gc_tui("targets", "bump", "--targets", str(targets), "--yes",
                            *flags[4:6])  # the config only: no registry needs the vault
    assert code == 0, err
    assert f'+explorer = "{EXPLORER}:20260815-1002"' in out
    assert f'explorer = "{EXPLORER}:20260815-1002"' in targets.read_text()
    assert f'comapeo = "{COMAPEO}:0.4.0"' in targets.read_text()


def test_an_unreachable_registry_delays_nothing_and_says_so(
    tmp_path: Path, fleet: FakeFleetThread
) -> None:
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    code, out, err = gc_tui("audit", "--upstream", "--format", "json",
                            *setup(tmp_path, fleet, closed))
    assert code == 0, err  # the instances answered; the registry is not an instance
    (acme,) = json.loads(out)["instances"]
    for app in acme["apps"]:
        assert app["upstream"] == "unknown"
        assert app["upstream_error"].startswith("registry unreachable")
