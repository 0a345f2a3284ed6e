"""The append-only deploy log: every plan and every row's final state, one JSON per line.

Each record is written and fsynced on its own, so a killed process loses nothing that had
already finished. Nothing secret goes in: instance names, origins, apps, images, states.
"""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

LOG_NAME = "deploys.jsonl"


def state_dir() -> Path:
    explicit = os.environ.get("GC_TUI_STATE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "gc-tui"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def create_private(path: Path) -> int:
    """Open ``path`` for appending, created 0600 (and its folder 0700) if new."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.fchmod(fd, 0o600)
    return fd


class DeployLog:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or state_dir() / LOG_NAME

    def append(self, record: Mapping[str, Any]) -> None:
        line = json.dumps({"at": now_iso(), **record}, ensure_ascii=True) + "\n"
        fd = create_private(self.path)
        try:
            os.write(fd, line.encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)

    def records(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        with self.path.open(encoding="ascii") as handle:
            return [json.loads(line) for line in handle if line.strip()]


def operator() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name is not a reason to refuse a deploy
        return "unknown"
