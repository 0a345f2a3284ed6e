"""p: pin the images of marked rows as their apps' targets, through core.targets.plan_pin,
after a confirmation that lists every change.

Marked rows may span instances; pinning goes per app, so every marked row of one app must
run one image, or nothing is pinned (the operator picks which one wins, not row order).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text

from gc_tui.core.images import same_image
from gc_tui.core.model import AppInfo, Instance, InstanceAudit, InstanceStatus
from gc_tui.core.targets import (
    PinReport,
    Targets,
    TargetsError,
    load_or_new_targets,
    plan_pin,
    save_targets,
)
from gc_tui.tui.fleet_rows import FleetRow, RowKind
from gc_tui.tui.safe import safe_text
from gc_tui.tui.screens.confirm import ConfirmScreen

if TYPE_CHECKING:
    from gc_tui.tui.app import GcTuiApp


def pin_conflicts(rows: Sequence[FleetRow]) -> list[str]:
    """One sentence per app whose marked rows run different images."""
    by_app: dict[str, list[FleetRow]] = {}
    for row in rows:
        by_app.setdefault(row.app_name, []).append(row)
    conflicts = []
    for app_name, app_rows in by_app.items():
        images = [row.image for row in app_rows]
        first = images[0]
        if any(
            (image is None) != (first is None)
            or (image is not None and first is not None and not same_image(image, first))
            for image in images[1:]
        ):
            runs = ", ".join(f"{row.image or '(no image)'} on {row.instance}" for row in app_rows)
            conflicts.append(f"{app_name} runs different images ({runs})")
    return conflicts


def plan_pin_rows(targets: Targets, rows: Sequence[FleetRow]) -> PinReport:
    """plan_pin over the marked apps, one each; marking an app is asking to manage it."""
    apps: dict[str, AppInfo] = {}
    for row in rows:
        if row.app is not None:
            apps.setdefault(row.app.name, row.app)
    marked = InstanceAudit(Instance(name="the marked rows", url=""), InstanceStatus.OK,
                           apps=tuple(apps.values()))
    return plan_pin(targets, marked, include_unmanaged=True)


def pin_body(report: PinReport, path: Path) -> Text:
    text = Text()
    older = [change for change in report.changes if change.downgrade]
    if older:
        # Pinning what a row runs is how a fleet goes back by accident: say it first.
        apps = ", ".join(change.app for change in older)
        text.append_text(safe_text(
            f"Goes back: {apps} would get a target OLDER than the current one.",
            style="bold reverse", wrap=True,
        ))
        text.append("\n\n")
    text.append("Target changes (app: old target → new image)\n", style="bold")
    for change in report.changes:
        text.append("  ")
        text.append_text(safe_text(change.app, 30))
        text.append(": ")
        text.append_text(safe_text(change.old or "(no target yet)", 70,
                                   style="" if change.old else "italic"))
        text.append(" → ")
        text.append_text(safe_text(change.new, 70, style="bold"))
        if change.downgrade:
            text.append("  OLDER", style="bold reverse")
        text.append("\n")
    if report.skipped:
        text.append("\nNot pinned\n", style="bold")
        for skip in report.skipped:
            text.append("  ")
            text.append_text(safe_text(skip.app, 30))
            text.append(" (", style="dim")
            text.append_text(safe_text(skip.image or "no image", 60, style="dim"))
            text.append("): ", style="dim")
            text.append_text(safe_text(skip.reason, style="dim"))
            text.append("\n")
    text.append("\n")
    text.append_text(safe_text(
        f"Writes {path} (other targets are kept; comments in the file are not).", wrap=True,
    ))
    return text


def ask_to_pin(app: GcTuiApp, rows: Sequence[FleetRow]) -> None:
    """Check the marked rows, then ask; nothing is written before the answer."""
    path = app.targets_path
    if path is None:
        app.notify("No targets file: start gc-tui with --targets FILE, or set targets in "
                   "the config. Nothing pinned.", severity="warning", markup=False)
        return
    rows = [row for row in rows if row.kind is RowKind.APP and row.app is not None]
    if not rows:
        app.notify("Nothing to pin: mark app rows with space (or put the cursor on one).",
                   markup=False)
        return
    conflicts = pin_conflicts(rows)
    if conflicts:
        app.notify("Not pinned: " + "; ".join(conflicts)
                   + ". Mark rows that run one image per app.",
                   severity="error", markup=False, timeout=12)
        return
    try:
        current = load_or_new_targets(path, app.ops.settings.hold_repositories)
    except TargetsError as err:
        app.notify(f"Not pinned: {err}", severity="error", markup=False)
        return
    report = plan_pin_rows(current, rows)
    if not report.changes:
        reasons = "; ".join(f"{skip.app}: {skip.reason}" for skip in report.skipped)
        app.notify("Nothing to pin: the targets already match"
                   + (f" ({reasons})" if reasons else "") + ".", markup=False)
        return
    app.push_screen(
        ConfirmScreen(f"Pin {len(report.changes)} target(s) in {path.name}?",
                      pin_body(report, path), "Pin", "Cancel", id="confirm-pin"),
        callback=lambda answer: _pin_confirmed(app, answer, path, report),
    )


def _pin_confirmed(app: GcTuiApp, answer: bool | None, path: Path, report: PinReport) -> None:
    if not answer:
        return
    try:
        save_targets(path, report.targets)
    except OSError as err:
        app.notify(f"Not pinned: cannot write {path}: {err.strerror or err}",
                   severity="error", markup=False)
        return
    app.ops.targets = report.targets
    app.fleet.set_drift(app.drift_fn(), targets=report.targets)
    app.fleet_screen.show_drift()
    app.notify(f"Pinned {len(report.changes)} target(s) in {path}.", markup=False)
