"""The deploy journal: every run's plan and every row's transitions, one JSON object per line.

A run that dies (kill -9, a dropped SSH session, a double Ctrl-C) must leave enough behind to
tell "sent" from "never sent" without auditing every instance by hand. So ``sending`` is on
disk before the request leaves, and every other transition follows within one fsync (a few
milliseconds); a journal that cannot be written stops the rows before anything is sent.
Appends hold an advisory lock (flock) so two gc-tui processes never interleave their lines.
Nothing secret is written: instance names, origins, apps, images, states and reasons.

Records (``type``):
- ``run``: a run started; its action, who, when, the planned rows and the skipped ones.
- ``row``: one row reached a state (``planned`` rows are in the ``run`` record).
- ``split``: a service group ended split across states on an instance.
Older logs (``plan`` records and final-state ``row`` records) read the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import getpass
import json
import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

JOURNAL_NAME = "deploys.jsonl"
# Final states: a row in any other state was left behind by a run that did not end.
FINAL_STATES = frozenset({"done", "failed", "cancelled", "skipped"})
# States a row reaches once its request may be on its way: from then on the server decides.
_ON_THE_WIRE = frozenset({"sending", "sent", "building", "verifying", "restarting"})


def state_dir() -> Path:
    explicit = os.environ.get("GC_TUI_STATE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "gc-tui"


def default_journal_path() -> Path:
    return state_dir() / JOURNAL_NAME


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def create_private(path: Path) -> int:
    """Open ``path`` for appending, created 0600 (and its folder 0700) if new."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    os.fchmod(fd, 0o600)
    return fd


def operator() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name is not a reason to refuse a deploy
        return "unknown"


class JournalError(Exception):
    """The journal could not be written; nothing more is sent while that is so."""


class Journal:
    """Appends records to the journal file under an advisory lock, each batch fsynced.

    ``append`` writes at once. A running engine instead ``queue``s its transitions and
    ``durable()`` waits for them: one write and one fsync, in a worker thread, covers every
    record queued meanwhile (a group commit), so 300 rows reaching ``sending`` together cost a
    few fsyncs, not 300, and the event loop (the TUI's too) never waits on the disk.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_journal_path()
        self.fsyncs = 0  # for the benchmark
        self.error: JournalError | None = None  # the first failure; it stays
        self._pending: list[bytes] = []
        self._queued = 0  # records handed in so far
        self._written = 0  # of those, records on disk
        self._pending_lock = threading.Lock()  # held only to swap the list: never across I/O
        self._write_lock = threading.Lock()  # one writer at a time keeps the lines in order
        self._flushing: asyncio.Task[None] | None = None

    def append(self, record: Mapping[str, Any]) -> None:
        self.append_all([record])

    def append_all(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Write ``records`` (and anything queued before them) now; raises JournalError."""
        self.queue(records)
        self.flush()

    def queue(self, records: Iterable[Mapping[str, Any]]) -> None:
        stamp = now_iso()
        lines = [
            (json.dumps({"at": stamp, **record}, ensure_ascii=True, separators=(",", ":"))
             + "\n").encode("ascii")
            for record in records
        ]
        with self._pending_lock:
            self._pending.extend(lines)
            self._queued += len(lines)

    def flush(self) -> None:
        """Everything queued so far is on disk when this returns; raises JournalError."""
        with self._write_lock:
            if self.error is not None:
                raise self.error
            with self._pending_lock:
                batch, self._pending = self._pending, []
                upto = self._queued
            if batch:
                try:
                    self._write(b"".join(batch))
                except OSError as err:
                    self.error = JournalError(
                        f"the deploy journal {self.path} cannot be written "
                        f"({err.strerror or err})"
                    )
                    raise self.error from None
            self._written = upto

    def flush_soon(self) -> None:
        """Start a background flush, unless one is on its way (it takes what is queued)."""
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.get_running_loop().create_task(self._flush_in_thread())

    async def durable(self) -> None:
        """Wait until every record queued before this call is on disk; raises JournalError."""
        target = self._queued
        while self._written < target:
            if self.error is not None:
                raise self.error
            self.flush_soon()
            assert self._flushing is not None
            await asyncio.shield(self._flushing)
        if self.error is not None and self._written < target:
            raise self.error

    async def _flush_in_thread(self) -> None:
        # Failures are kept in self.error for the next durable() or flush(): nobody awaits
        # a background flush, and an exception left in a task would reach stderr.
        with contextlib.suppress(JournalError):
            await asyncio.to_thread(self.flush)

    def _write(self, data: bytes) -> None:
        fd = create_private(self.path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                # A write cut short (a full disk, a kill mid-write) left half a line: end it,
                # or this record would be glued to it and lost with it.
                data = b"\n" + data
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
            self.fsyncs += 1
        finally:
            os.close(fd)  # closing releases the lock


# -- reading -----------------------------------------------------------------------------------


@dataclass
class JournalRow:
    """One row of a run, as the journal last knew it."""

    instance: str
    app: str
    from_image: str | None
    to_image: str | None
    state: str
    error: str | None = None
    states: list[str] = field(default_factory=list)  # every state the row reached, in order
    log_tail: tuple[str, ...] = ()
    group: str | None = None
    url: str | None = None
    # The app's deployed version when the run was planned: a version above it is this run's
    # or later, whatever the server's clock says (None in journals from before it was kept).
    from_version: int | None = None

    @property
    def key(self) -> str:
        return f"{self.instance}/{self.app}"

    @property
    def settled(self) -> bool:
        """Final, and known to be: a row cancelled after its request went out (a second
        Ctrl-C, a quit, a lost terminal) is final for the run but not for the server, which
        may have done it; ``log --reconcile`` says which."""
        if self.state not in FINAL_STATES:
            return False
        return not (self.state == "cancelled" and self.was_sent)

    @property
    def was_sent(self) -> bool:
        """The request may have reached the server: the row got to ``sending`` and the
        server did not refuse it (``not sent``) afterwards."""
        for at, state in enumerate(self.states):
            if state in _ON_THE_WIRE:
                return "not sent" not in self.states[at:]
        return False

    def as_json(self) -> dict[str, object]:
        return {
            "instance": self.instance,
            "app": self.app,
            "from_image": self.from_image,
            "to_image": self.to_image,
            "state": self.state,
            "error": self.error,
        }


@dataclass
class JournalRun:
    run_id: str
    started_at: str
    action: str
    user: str | None
    rows: dict[str, JournalRow] = field(default_factory=dict)
    splits: list[dict[str, Any]] = field(default_factory=list)

    @property
    def unsettled(self) -> list[JournalRow]:
        return [row for row in self.rows.values() if not row.settled]

    def as_json(self, rows: Sequence[JournalRow] | None = None) -> dict[str, object]:
        return {
            "run_id": self.run_id,
            "started_at": self.started_at,
            "action": self.action,
            "rows": [row.as_json() for row in (self.rows.values() if rows is None else rows)],
        }


@dataclass(frozen=True)
class JournalContents:
    runs: tuple[JournalRun, ...]  # newest first
    unreadable_lines: int = 0


def read_journal(path: Path | None = None) -> JournalContents:
    """Every run in the journal, newest first, each row with its last state.

    A line that is not a record (a crash in the middle of a write, an edit by hand) is
    counted and skipped: the rest of the journal still reads.
    """
    path = path or default_journal_path()
    if not path.exists():
        return JournalContents(())
    runs: dict[str, JournalRun] = {}
    bad = 0
    with path.open("rb") as handle:
        for raw in handle:
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except ValueError:
                bad += 1
                continue
            if not isinstance(record, dict) or not _apply(runs, record):
                bad += 1
    ordered = sorted(runs.values(), key=lambda run: run.started_at, reverse=True)
    return JournalContents(tuple(ordered), bad)


def _apply(runs: dict[str, JournalRun], record: dict[str, Any]) -> bool:
    kind = record.get("type")
    run_id = record.get("run")
    if not isinstance(run_id, str):
        return False
    if kind in ("run", "plan"):
        run = runs.setdefault(
            run_id,
            JournalRun(run_id, str(record.get("at", "")), str(record.get("action", "deploy")),
                       record.get("user") if isinstance(record.get("user"), str) else None),
        )
        for planned in record.get("rows") or []:
            if isinstance(planned, dict):
                row = _row_from(planned, "planned")
                if row is not None:
                    run.rows.setdefault(row.key, row)
        for skipped in record.get("skipped") or []:
            if isinstance(skipped, dict):
                row = _row_from(skipped, "skipped", error=skipped.get("reason"))
                if row is not None:
                    run.rows.setdefault(row.key, row)
        return True
    found = runs.get(run_id)
    if found is None:
        # Rows without their run header (a log cut at the top): keep them under a stub run.
        found = runs[run_id] = JournalRun(
            run_id, str(record.get("at", "")), str(record.get("action", "deploy")), None
        )
    run = found
    if kind == "row":
        state = record.get("state")
        instance, app = record.get("instance"), record.get("app")
        if not (isinstance(state, str) and isinstance(instance, str) and isinstance(app, str)):
            return False
        key = f"{instance}/{app}"
        existing = run.rows.get(key)
        if existing is None:
            existing = _row_from(record, state)
            if existing is None:
                return False
            existing.states = []
            run.rows[key] = existing
        existing.state = state
        existing.states.append(state)
        if "error" in record:
            error = record.get("error")
            existing.error = error if isinstance(error, str) else None
        tail = record.get("log_tail")
        if isinstance(tail, list):
            existing.log_tail = tuple(str(line) for line in tail)
        return True
    if kind == "split":
        run.splits.append(record)
        return True
    return False


def _row_from(raw: Mapping[str, Any], state: str, error: object = None) -> JournalRow | None:
    instance, app = raw.get("instance"), raw.get("app")
    if not isinstance(instance, str) or not isinstance(app, str):
        return None
    from_image, to_image = raw.get("from_image"), raw.get("to_image")
    group, url = raw.get("group"), raw.get("url")
    from_version = raw.get("from_version")
    return JournalRow(
        instance=instance,
        app=app,
        from_image=from_image if isinstance(from_image, str) else None,
        to_image=to_image if isinstance(to_image, str) else None,
        state=state,
        error=error if isinstance(error, str) else None,
        states=[state],
        group=group if isinstance(group, str) else None,
        url=url if isinstance(url, str) else None,
        from_version=(from_version if isinstance(from_version, int)
                      and not isinstance(from_version, bool) and from_version >= 0 else None),
    )
