"""Headless renderings of an audit and of a deploy: table, CSV, JSON, and the matrix.

Every string from a server or the vault goes through ``printable`` before it reaches a
terminal or a spreadsheet; JSON escapes control characters by itself.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from gc_tui.core.model import AppInfo, InstanceAudit
from gc_tui.core.text import printable

if TYPE_CHECKING:
    from gc_tui.core.matrix import Matrix
    from gc_tui.core.upstream import AppUpstream

TABLE_WIDTH = 100
# What the registries say of one app (``audit --upstream``); None: not asked.
UpstreamOf = Callable[[AppInfo], "AppUpstream"]


def _drift(app: AppInfo, targets: Any) -> tuple[str, str | None]:
    from gc_tui.core.drift import drift_of

    drift = drift_of(app.name, app.image, targets)
    return str(drift.state), drift.target


def _missing(audit: InstanceAudit, targets: Any) -> tuple[str, ...]:
    from gc_tui.core.drift import instance_drift

    return instance_drift(audit, targets, fleet_newest_caprover=None).missing


def audit_json(
    audits: Sequence[InstanceAudit], targets: Any = None, upstream: UpstreamOf | None = None
) -> dict[str, Any]:
    instances = []
    for audit in audits:
        apps = []
        for app in audit.apps:
            record: dict[str, Any] = {
                "app": app.name,
                "image": app.image,
                "version": app.deployed_version,
                "deployed_at": app.deployed_at,
                "manual": app.manual,
                "history_length": app.history_length,
                "tags": list(app.tags),
                "project_id": app.project_id,
            }
            if targets is not None:
                record["state"], record["target"] = _drift(app, targets)
            if upstream is not None:
                record.update(upstream(app).as_json())
            apps.append(record)
        entry: dict[str, Any] = {
            "name": audit.instance.name,
            "url": audit.instance.url,
            "status": str(audit.status),
            "error": audit.error,
            "caprover_version": audit.version.current if audit.version else None,
            "caprover_latest": audit.version.latest if audit.version else None,
            "caprover_can_update": audit.version.can_update if audit.version else None,
            "warnings": list(audit.instance.warnings),
            "apps": apps,
        }
        if targets is not None and audit.ok:
            for name in _missing(audit, targets):
                apps.append(
                    {
                        "app": name,
                        "image": None,
                        "version": None,
                        "deployed_at": None,
                        "manual": False,
                        "state": "missing",
                        "target": targets.images.get(name),
                        # Nothing runs, so nothing is compared with the registry.
                        **({"newest": None, "upstream": None, "upstream_error": None}
                           if upstream is not None else {}),
                    }
                )
        instances.append(entry)
    return {"instances": instances}


def render_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


def audit_csv(
    audits: Sequence[InstanceAudit], targets: Any = None, upstream: UpstreamOf | None = None
) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    header = [
        "instance",
        "url",
        "status",
        "error",
        "caprover_version",
        "app",
        "image",
        "version",
        "deployed_at",
        "manual",
    ]
    if targets is not None:
        header += ["state", "target"]
    if upstream is not None:
        header += ["newest", "upstream", "upstream_error"]
    writer.writerow(header)
    data = audit_json(audits, targets, upstream)
    for entry in data["instances"]:
        base = [entry["name"], entry["url"], entry["status"], entry["error"] or ""]
        base.append(entry["caprover_version"] or "")
        if not entry["apps"]:
            writer.writerow(_csv_cells(base + [""] * (len(header) - len(base))))
            continue
        for app in entry["apps"]:
            row = [
                *base,
                app["app"],
                app["image"] or "",
                "" if app["version"] is None else app["version"],
                app["deployed_at"] or "",
                "true" if app["manual"] else "false",
            ]
            if targets is not None:
                row += [app.get("state") or "", app.get("target") or ""]
            if upstream is not None:
                row += [app.get(key) or "" for key in ("newest", "upstream", "upstream_error")]
            writer.writerow(_csv_cells(row))
    return buffer.getvalue()


def _csv_cells(cells: Sequence[object]) -> list[str]:
    result = []
    for cell in cells:
        text = printable(cell)
        # A cell starting with = + - @ is a formula to a spreadsheet; server text is not.
        if text[:1] in ("=", "+", "-", "@"):
            text = "'" + text
        result.append(text)
    return result


def _upstream_cell(found: AppUpstream, width: int) -> str:
    """``behind -> 20260815-1002``, ``current``, ``unknown (registry unreachable)``."""
    from gc_tui.core.upstream import UpstreamState

    if found.state in (UpstreamState.BEHIND, UpstreamState.REPUSHED) and found.newest:
        return printable(f"{found.state} -> {found.newest}", width)
    return printable(found.label, width)


def fit_image(image: str, width: int) -> str:
    """Shorten from the middle: the tag and the image's own name matter most."""
    text = printable(image)
    if len(text) <= width:
        return text
    head = max(width // 4, 1)
    return text[:head] + "…" + text[len(text) - (width - head - 1) :]


def audit_table(
    audits: Sequence[InstanceAudit], targets: Any = None, upstream: UpstreamOf | None = None
) -> str:
    """Grouped by instance, fits 100 columns; failures shown with their reason."""
    lines: list[str] = []
    # The last column says "manual" for server builds, or the drift state with a targets file
    # (whose states include "manual"); with upstream lookups, the upstream state and newest.
    last_width = len("incomparable") if targets is not None else len("manual")
    if upstream is not None:
        last_width = 30
    app_width = 24
    version_width = 5
    image_width = TABLE_WIDTH - 2 - app_width - 1 - 1 - version_width - 2 - last_width
    for audit in audits:
        name = printable(audit.instance.name, 30)
        if audit.ok:
            version = audit.version
            caprover = f"CapRover {printable(version.current, 20)}" if version else ""
            if version and version.latest != version.current:
                caprover += f" (latest {printable(version.latest, 20)})"
            head = f"{name}  {printable(audit.instance.url, 40)}  ok  {caprover}"
        else:
            reason = printable(audit.error or "", TABLE_WIDTH)
            head = f"{name}  {printable(audit.instance.url, 40)}  {audit.status}"
            lines.append(printable(head, TABLE_WIDTH))
            lines.append(printable(f"  ! {reason}", TABLE_WIDTH))
            lines.append("")
            continue
        lines.append(printable(head, TABLE_WIDTH))
        for warning in audit.instance.warnings:
            lines.append(printable(f"  note: {warning}", TABLE_WIDTH))
        if not audit.apps:
            lines.append("  (no apps)")
        for app in audit.apps:
            if targets is not None:
                last = _drift(app, targets)[0]
            else:
                last = "manual" if app.manual else ""
            if upstream is not None:
                last = _upstream_cell(upstream(app), last_width)
            image = fit_image(app.image if app.image is not None else "(no image)", image_width)
            cells = (
                f"  {printable(app.name, app_width):<{app_width}} "
                f"{image:<{image_width}} {app.deployed_version:>{version_width}}  {last}"
            )
            lines.append(cells.rstrip())
        if targets is not None:
            for missing in _missing(audit, targets):
                lines.append(
                    f"  {printable(missing, app_width):<{app_width}} "
                    f"{'(absent)':<{image_width}} {'':>{version_width}}  missing"
                )
        lines.append("")
    ok = sum(1 for audit in audits if audit.ok)
    apps = sum(len(audit.apps) for audit in audits)
    manual = sum(1 for audit in audits for app in audit.apps if app.manual)
    lines.append(
        f"{len(audits)} instances: {ok} ok, {len(audits) - ok} failed; {apps} apps, {manual} manual"
    )
    return "\n".join(lines) + "\n"


# -- the matrix: one line per instance, one column per app (core/matrix.py) -------------------

MATRIX_GAP = 2
MATRIX_TAG_FLOOR = 10  # "…0731-948": the day and the run number of a date-build tag
MATRIX_LABEL_FLOOR = 8  # "…-worker", "…-native": enough to tell a group's members apart
MATRIX_INSTANCE_LABEL = "instance"


def audit_matrix(matrix: Matrix, width: int | None = None) -> str:
    """The grid as text: a header of app names, then each instance's tags (``manual`` for
    a server build, ``-`` when absent); a failed instance's status across its row.

    ``width`` None: every column whole. Otherwise the columns share ``width`` cells, tags and
    names cut as the TUI cuts them, and columns that still do not fit go to a second block
    below, which repeats the instance names.
    """
    from gc_tui.core.matrix import LEGEND_ORDER
    from gc_tui.core.matrix_fit import cut_labels, panels, share_room, text_width

    names = [printable(row.instance) for row in matrix.rows]
    name_width = max([text_width(name) for name in names] + [len(MATRIX_INSTANCE_LABEL)])
    labels = [printable(app) for app in matrix.apps]
    texts = {
        row.instance: [printable(row.cell(app).text) for app in matrix.apps]
        for row in matrix.rows if row.ok
    }
    cell_widths = [
        max((text_width(cells[index]) for cells in texts.values()), default=1) + MATRIX_GAP
        for index in range(len(labels))
    ]
    label_widths = [text_width(label) + MATRIX_GAP for label in labels]
    if width is None or not labels:
        whole = [max(cell, label) for cell, label in zip(cell_widths, label_widths, strict=True)]
        blocks = [(range(len(labels)), whole)]
    else:
        floors = [min(cell, MATRIX_TAG_FLOOR + MATRIX_GAP) for cell in cell_widths]
        room = max(width - name_width, 1)
        # As few blocks as the floors need; with that many, tags whole where they can be.
        whole_tags = cut_labels(cell_widths, label_widths, floors, MATRIX_LABEL_FLOOR + MATRIX_GAP)
        packed = panels(floors, room)
        loose = panels(whole_tags, room)
        blocks = []
        for columns in loose if len(loose) <= len(packed) else packed:
            shares = share_room([cell_widths[i] for i in columns],
                                [label_widths[i] for i in columns],
                                [floors[i] for i in columns], room,
                                MATRIX_LABEL_FLOOR + MATRIX_GAP)
            blocks.append((columns, shares))
    lines: list[str] = []
    for number, (columns, shares) in enumerate(blocks):
        if number:
            lines.append("")
        lines.extend(_matrix_block(matrix, names, name_width, labels, texts, columns, shares))
    counts = matrix.counts()
    ok = sum(1 for row in matrix.rows if row.ok)
    summary = (
        f"{len(matrix.rows)} instances: {ok} ok, {len(matrix.rows) - ok} failed; "
        f"{len(matrix.apps)} apps"
    )
    states = ", ".join(f"{counts[state]} {state}" for state in LEGEND_ORDER if counts[state])
    if states:
        summary += f"; cells: {states}"
    lines.append("")
    if width is None:
        lines.append(summary)
    else:
        import textwrap

        lines.extend(textwrap.wrap(summary, max(width, 20)))
    return "\n".join(lines) + "\n"


def _matrix_block(
    matrix: Matrix,
    names: Sequence[str],
    name_width: int,
    labels: Sequence[str],
    texts: dict[str, list[str]],
    columns: range,
    shares: Sequence[int],
) -> list[str]:
    from gc_tui.core.matrix_fit import abbreviate_tag, keep_start, short_label, text_width

    def pad(text: str, width: int) -> str:
        return text + " " * max(width - text_width(text), 0)

    gap = " " * MATRIX_GAP
    header = pad(MATRIX_INSTANCE_LABEL, name_width) + "".join(
        gap + pad(short_label(labels[index], share - MATRIX_GAP), share - MATRIX_GAP)
        for index, share in zip(columns, shares, strict=True)
    )
    lines = [header.rstrip()]
    for row, name in zip(matrix.rows, names, strict=True):
        cells = texts.get(row.instance)
        if cells is None:
            status = printable(row.status_text)
            if len(columns):  # across the columns; with none (no instance answered), whole
                status = keep_start(status, sum(shares) - MATRIX_GAP)
            lines.append(f"{pad(name, name_width)}{gap}{status}")
            continue
        line = pad(name, name_width) + "".join(
            gap + pad(abbreviate_tag(cells[index], share - MATRIX_GAP), share - MATRIX_GAP)
            for index, share in zip(columns, shares, strict=True)
        )
        lines.append(line.rstrip())
    return lines
