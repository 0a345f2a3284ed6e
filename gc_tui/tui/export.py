"""Export the visible rows: CSV or JSON, written to a new 0600 file, never over an old one."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path

from gc_tui.core.journal import create_private
from gc_tui.core.text import printable
from gc_tui.tui.fleet_rows import FleetRow

FIELDS = (
    "instance", "app", "image", "repository", "tag", "status", "manual",
    "caprover_version", "caprover_latest", "drift", "deploy_state", "error",
)


class ExportFormat(StrEnum):
    CSV = "csv"
    JSON = "json"


class ExportError(Exception):
    pass


def row_record(row: FleetRow) -> dict[str, object]:
    repository, tag = row.image_parts
    return {
        "instance": row.instance,
        "app": row.app_name,
        "image": row.image or "",
        "repository": repository,
        "tag": tag,
        "status": row.status.word,
        "manual": row.manual,
        "caprover_version": row.version.current if row.version else "",
        "caprover_latest": row.version.latest if row.version else "",
        "drift": str(row.drift.state) if row.drift is not None else "",
        "deploy_state": str(row.deploy.state) if row.deploy is not None else "",
        "error": (row.deploy.error if row.deploy is not None and row.deploy.error
                  else row.instance_error) or "",
    }


def _csv_cell(value: object) -> object:
    """Server text can start with = + - @: a spreadsheet would run it as a formula.

    Booleans are written as the headless CSV writes them (``true``/``false``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        value = printable(value)
        if value[:1] in ("=", "+", "-", "@"):
            return "'" + value
    return value


def render_export(rows: Sequence[FleetRow], fmt: ExportFormat) -> str:
    records = [row_record(row) for row in rows]
    if fmt is ExportFormat.JSON:
        return json.dumps(records, indent=2, ensure_ascii=False) + "\n"
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    for record in records:
        writer.writerow({key: _csv_cell(value) for key, value in record.items()})
    return buffer.getvalue()


def write_export(path: Path, rows: Sequence[FleetRow], fmt: ExportFormat) -> int:
    """Write the rows to a file that must not exist yet; returns how many rows were written."""
    path = path.expanduser()
    if path.exists():
        raise ExportError(f"{path} already exists; choose another name")
    data = render_export(rows, fmt).encode("utf-8")
    try:
        fd = create_private(path)
    except OSError as err:
        raise ExportError(f"cannot create {path}: {err.strerror}") from None
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    return len(rows)
