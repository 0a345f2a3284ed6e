"""Deterministic rows without servers: canned audits, run events as the engines emit them, and
the app as the snapshots draw it. For model, table and snapshot tests that need no fake fleet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.app import App
from textual.pilot import Pilot
from textual.widgets import Input

from gc_tui.core.engine import RowEvent, RowState
from gc_tui.core.model import (
    AppInfo,
    AppVersion,
    Instance,
    InstanceAudit,
    InstanceStatus,
    VersionInfo,
)
from gc_tui.core.operations import AuditArrived
from gc_tui.core.update import CAPROVER_APP, UPDATE_ACTION
from gc_tui.demo.catalog import demo_fleet_data, history_images
from gc_tui.settings import Settings
from gc_tui.tui.app import GcTuiApp, make_app
from gc_tui.tui.fleet_model import FleetModel
from gc_tui.tui.messages import OpsMessage
from gc_tui.tui.screens.unlock import UnlockScreen


def audit(
    name: str, apps: dict[str, str], status: InstanceStatus = InstanceStatus.OK
) -> InstanceAudit:
    """One instance on CapRover 1.14.0 (1.15.3 available) running ``apps`` (name: image)."""
    infos = tuple(AppInfo(app, 3, image, None) for app, image in apps.items())
    return InstanceAudit(Instance(name, f"https://captain.{name}.example.org"), status,
                         None if status is InstanceStatus.OK else "boom",
                         VersionInfo("1.14.0", "1.15.3", True), infos)


def canned_audits() -> list[InstanceAudit]:
    """The demo fleet as the audit would see it, without any network (fixed timestamps)."""
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


async def load_canned(pilot: Pilot[Any], audits: list[InstanceAudit] | None = None) -> None:
    """Skip the unlock screen and feed canned audits through the App's own handlers."""
    app = pilot.app
    assert isinstance(app, GcTuiApp)
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


def app_for_snapshot(**changes: Any) -> GcTuiApp:
    """The app as the snapshots draw it: a vault path that is never opened, the demo's hint."""
    options = Settings(vault=Path("fleet.kdbx"), unlock_hint="Demo vault password: demo-only",
                       **changes)
    return make_app(options)


def no_blink(app: App[Any]) -> None:
    """Input cursors drawn steady, so a snapshot does not depend on when it is taken."""
    for screen in app.screen_stack:
        for widget in screen.query(Input):
            widget.cursor_blink = False


async def fleet_loaded(pilot: Pilot[Any]) -> GcTuiApp:
    """``load_canned``, then steady cursors: the fleet as a snapshot draws it."""
    await load_canned(pilot)
    app = pilot.app
    assert isinstance(app, GcTuiApp)
    no_blink(app)
    return app


# -- run events, as the engines emit them ------------------------------------------------------


def deploy_event(key: str, state: RowState, *, at: float = 0.0, started_at: float | None = None,
                 error: str | None = None) -> RowEvent:
    instance, _, app_name = key.partition("/")
    return RowEvent("run", "deploy", key, instance, app_name, state, error, (), started_at, at)


def update_event(
    instance: str, state: RowState, *, at: float = 0.0, error: str | None = None
) -> RowEvent:
    return RowEvent("run", UPDATE_ACTION, f"{instance}/{CAPROVER_APP}", instance, CAPROVER_APP,
                    state, error, (), None, at)
