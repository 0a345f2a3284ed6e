"""What a CapRover process keeps in memory only, and loses when it restarts.

Build logs, the build queue, the flags of apps being built, the login back-off and the
namespace lock (docs/caprover-api.md says which of them a client can observe, and how).
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from typing import Any

BUILD_LOG_SIZE = 50
BACKOFF_FAILURES = 5


class BuildLog:
    """CapRover's per-app build log: the last 50 lines and a running line number."""

    def __init__(self) -> None:
        self.lines: deque[str] = deque(maxlen=BUILD_LOG_SIZE)
        self.first_line_number = -BUILD_LOG_SIZE
        self.failed = False

    def clear(self) -> None:
        self.lines.clear()
        self.first_line_number = -BUILD_LOG_SIZE
        self.failed = False

    def log(self, line: str) -> None:
        self.lines.append(line)
        self.first_line_number += 1

    def window(self) -> dict[str, Any]:
        padding = [""] * (BUILD_LOG_SIZE - len(self.lines))
        return {"lines": padding + list(self.lines), "firstLineNumber": self.first_line_number}


@dataclass
class QueuedBuild:
    app_name: str
    definition: Any
    git_hash: str
    outcome: asyncio.Future[BuildOutcome]


@dataclass(frozen=True)
class BuildOutcome:
    """How an attached deploy is answered: ok, a CapRover envelope, or HTTP 500."""

    ok: bool
    status: int | None = None  # CapRover status of a validation error
    description: str = ""


@dataclass
class CaptainState:
    """What a CapRover process keeps in memory only: all of it is lost on restart."""

    build_logs: dict[str, BuildLog] = field(default_factory=dict)
    # True from the deploy request until the build ends: CapRover's isAppBuilding.
    building: dict[str, bool] = field(default_factory=dict)
    queue: deque[QueuedBuild] = field(default_factory=deque)
    failures: deque[float] = field(default_factory=lambda: deque(maxlen=BACKOFF_FAILURES))
    lock_holder: object | None = None
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def log_of(self, app_name: str) -> BuildLog:
        log = self.build_logs.get(app_name)
        if log is None:
            log = self.build_logs[app_name] = BuildLog()
        return log
