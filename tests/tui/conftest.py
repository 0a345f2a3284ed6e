"""A fake fleet over loopback and a real vault pointing at it, for pilot tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from vaults import DEFAULT_PASSWORD, make_vault

from gc_tui.core.deploy import DeployTiming
from gc_tui.core.secret import Secret
from gc_tui.demo.catalog import demo_instances, demo_vault_entries
from gc_tui.demo.fleet import FakeFleetThread
from gc_tui.demo.instance import FakeInstance
from gc_tui.settings import Settings
from gc_tui.tui.app import GcTuiApp, make_app

FAST_TIMING = DeployTiming(poll_interval=0.05, settle_seconds=0.1, busy_retry_first=0.05,
                     busy_retry_max=0.1, busy_give_up=2.0, build_deadline=20.0)
SIZE = (140, 40)


@dataclass
class Fleet:
    thread: FakeFleetThread
    vault: Path
    instances: list[FakeInstance]

    def instance(self, name: str) -> FakeInstance:
        return self.thread.instance(name)

    def settings(self, **changes: Any) -> Settings:
        base = Settings(vault=self.vault, group="CapRover", deploy_timing=FAST_TIMING,
                        journal_path=self.vault.parent / "deploys.jsonl")
        return replace(base, **changes)

    def app(self, *, unlock: bool = True, **changes: Any) -> GcTuiApp:
        if unlock:
            changes.setdefault("password", Secret(DEFAULT_PASSWORD))
        return make_app(self.settings(**changes))


def start_fleet(
    tmp_path: Path, instances: list[FakeInstance], *, demo: bool = True
) -> Iterator[Fleet]:
    """``demo``: the vault holds the demo JSON's passwords (one of them is out of date)."""
    with FakeFleetThread(instances) as thread:
        if demo:
            entries = [
                {"title": title, "url": url, "password": password, "group": "CapRover"}
                for title, url, password in demo_vault_entries(thread.urls())
            ]
        else:
            entries = [
                {"title": instance.name, "url": thread.url(instance.name),
                 "password": instance.password, "group": "CapRover"}
                for instance in instances
            ]
        vault = make_vault(tmp_path / "fleet.kdbx", entries)
        yield Fleet(thread, vault, instances)


def fast_demo_instances(**options: Any) -> list[FakeInstance]:
    return demo_instances(build_seconds=0.1, service_update_seconds=0.05, **options)


@pytest.fixture
def demo_fleet(tmp_path: Path) -> Iterator[Fleet]:
    yield from start_fleet(tmp_path, fast_demo_instances())


async def wait_for(pilot: Any, predicate: Any, timeout: float = 10.0, step: float = 0.05) -> None:
    """Pause until ``predicate()`` holds (flushes included); fail with a clear message."""
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the app")
        await pilot.pause(step)
    await pilot.pause()


async def deploy_from_dialog(pilot: Any, app: GcTuiApp, image: str, cursor: str | None = None) -> None:
    """As the operator: ``d`` (on ``cursor``'s row, else on the marks), type ``image``, Deploy."""
    from textual.widgets import Input

    from gc_tui.tui.screens.deploy import DeployScreen

    if cursor is not None:
        app.fleet_screen.table.move_to_key(cursor)
    await pilot.press("d")
    await wait_for(pilot, lambda: isinstance(app.screen, DeployScreen))
    app.screen.query_one("#deploy-image", Input).value = image
    await pilot.pause()
    await pilot.click("#deploy")


def audited(app: GcTuiApp, count: int | None = None) -> bool:
    expected = len(app.instances) if count is None else count
    return (
        bool(app.instances)
        and len(app.fleet.audits) >= expected
        and app.auditing == 0
        and not app.rows_pending  # the table shows what the model holds
    )


# -- canned audits: deterministic rows without servers, for snapshots and benchmarks --------


def canned_audits() -> list[Any]:
    """The demo fleet as the audit would see it, without any network (fixed timestamps)."""
    from gc_tui.core.model import (
        AppInfo,
        AppVersion,
        Instance,
        InstanceAudit,
        InstanceStatus,
        VersionInfo,
    )
    from gc_tui.demo.catalog import demo_fleet_data, history_images

    data = demo_fleet_data()
    latest = str(data.get("latest_caprover_version") or "")
    audits = []
    for spec in data["instances"]:
        instance = Instance(name=str(spec["name"]), url=str(spec["url"]))
        fault = spec.get("fault")
        if fault == "unreachable":
            audits.append(InstanceAudit(instance, InstanceStatus.UNREACHABLE,
                                        "connection refused"))
            continue
        if fault == "wrong_password":
            audits.append(InstanceAudit(instance, InstanceStatus.AUTH_FAILED,
                                        "wrong password (CapRover 1105)"))
            continue
        apps = []
        for app in spec["apps"]:
            count = int(app["versions_count"])
            images = history_images(str(app["appName"]), str(app["image"]), count)
            versions = tuple(
                AppVersion(n, image, f"2026-08-{1 + n % 28:02d}T10:00:00.000Z")
                for n, image in enumerate(images)
            )
            apps.append(AppInfo(
                name=str(app["appName"]), deployed_version=count - 1, image=str(app["image"]),
                deployed_at=versions[-1].timestamp, versions=versions,
            ))
        version = str(spec["caprover_version"])
        audits.append(InstanceAudit(
            instance, InstanceStatus.OK, None,
            VersionInfo(version, latest, latest != version), tuple(apps),
        ))
    return audits


async def load_canned(pilot: Any, audits: list[Any] | None = None) -> None:
    """Skip the unlock screen and feed canned audits through the App's own handlers."""
    from gc_tui.core.operations import AuditArrived
    from gc_tui.tui.fleet_model import FleetModel
    from gc_tui.tui.messages import OpsMessage
    from gc_tui.tui.screens.unlock import UnlockScreen

    app = pilot.app
    audits = canned_audits() if audits is None else audits
    if isinstance(app.screen, UnlockScreen):
        app.pop_screen()
    app.ops.instances = [audit.instance for audit in audits]
    app.fleet = FleetModel([audit.instance.name for audit in audits], app.drift_fn(),
                           targets=app.targets)
    for audit in audits:
        app.on_ops_message(OpsMessage(AuditArrived(audit, app.ops.epoch)))
    app.fleet_screen.flush(force_header=True)
    await pilot.pause()


# -- run events, as the engines emit them ------------------------------------------------------


def deploy_event(key: str, state: Any, *, at: float = 0.0, started_at: float | None = None,
                 error: str | None = None) -> Any:
    from gc_tui.core.engine import RowEvent

    instance, _, app_name = key.partition("/")
    return RowEvent("run", "deploy", key, instance, app_name, state, error, (), started_at, at)


def update_event(instance: str, state: Any, *, at: float = 0.0, error: str | None = None) -> Any:
    from gc_tui.core.engine import RowEvent
    from gc_tui.core.update import CAPROVER_APP, UPDATE_ACTION

    return RowEvent("run", UPDATE_ACTION, f"{instance}/{CAPROVER_APP}", instance, CAPROVER_APP,
                    state, error, (), None, at)
