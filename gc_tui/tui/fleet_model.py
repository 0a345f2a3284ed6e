"""The fleet table's rows as plain data: audits and deploy events in, rows and marks out.

No Textual here. The App feeds events in; the fleet screen reads the rows whose cells
changed on a slow timer and writes only those cells (tui-notes.md §3.2). ``status_of`` is the
single source of truth for what a row's state means: the status cell, the filter, the
header counts and the exports all read it, so they cannot disagree.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import cached_property, lru_cache
from typing import Any

from gc_tui.core.drift import Drift, DriftState, compare_versions
from gc_tui.core.engine import RowEvent, RowState
from gc_tui.core.images import try_parse_image
from gc_tui.core.model import AppInfo, InstanceAudit, InstanceStatus, VersionInfo
from gc_tui.core.plan import row_key
from gc_tui.core.targets import Targets
from gc_tui.core.update import CAPROVER_APP, caprover_version
from gc_tui.tui.filter import NO_FILTER, Field, Fields, Filter

INSTANCE_ROW = "\x00"  # an app name no server can produce: the key of an instance's own row


def instance_row_key(instance: str) -> str:
    return row_key(instance, INSTANCE_ROW)


DriftFn = Callable[[str, str | None], Drift | None]  # (app name, deployed image) -> drift


class RowKind(StrEnum):
    APP = "app"
    INSTANCE = "instance"  # an instance that failed the audit, or has no apps
    MISSING = "missing"  # an app the targets name that this instance does not have


class Tone(StrEnum):
    """How a status looks; the word always says the same thing without colour."""

    OK = "ok"
    MANUAL = "manual"
    ACTIVE = "active"
    DONE = "done"
    FAILED = "failed"
    MUTED = "muted"


@dataclass(frozen=True)
class DeployStatus:
    state: RowState
    started_at: float | None  # monotonic
    updated_at: float  # monotonic, when this state was reached
    to_image: str | None = None
    error: str | None = None
    log_tail: tuple[str, ...] = ()

    def elapsed(self, now: float) -> float | None:
        if self.started_at is None:
            return None
        end = self.updated_at if self.state.final else now
        return max(0.0, end - self.started_at)


@dataclass(frozen=True)
class CapRoverUpdate:
    """A CapRover update of the row's instance, as the update engine last reported it."""

    state: RowState
    from_version: str | None
    to_version: str | None
    updated_at: float  # monotonic
    error: str | None = None

    @property
    def final(self) -> bool:
        return self.state.final


@dataclass(frozen=True)
class Status:
    word: str
    tone: Tone


# Every state a run's row can reach, as a tone: the one table deploys and updates share.
RUN_TONES = {
    RowState.PLANNED: Tone.ACTIVE,
    RowState.SENDING: Tone.ACTIVE,
    RowState.SENT: Tone.ACTIVE,
    RowState.NOT_SENT: Tone.FAILED,
    RowState.BUILDING: Tone.ACTIVE,
    RowState.RESTARTING: Tone.ACTIVE,
    RowState.VERIFYING: Tone.ACTIVE,
    RowState.DONE: Tone.DONE,
    RowState.FAILED: Tone.FAILED,
    RowState.CANCELLED: Tone.FAILED,
    RowState.SKIPPED: Tone.MUTED,
}


@dataclass(frozen=True)
class FleetRow:
    key: str
    kind: RowKind
    instance: str
    instance_status: InstanceStatus
    instance_error: str | None = None
    version: VersionInfo | None = None
    app: AppInfo | None = None
    deploy: DeployStatus | None = None
    drift: Drift | None = None
    update: CapRoverUpdate | None = None  # a CapRover update of this row's instance
    missing_app: str | None = None  # RowKind.MISSING: the target app absent here

    @property
    def app_name(self) -> str:
        if self.app is not None:
            return self.app.name
        return self.missing_app or ""

    @property
    def image(self) -> str | None:
        return self.app.image if self.app is not None else None

    @cached_property
    def manual(self) -> bool:
        """Cached: the header counts it on every keystroke in the filter (a regex per row)."""
        return self.app is not None and self.app.manual

    @cached_property
    def image_parts(self) -> tuple[str, str]:
        """(repository, tag) for display; a reference Docker would refuse is split naively."""
        image = self.image
        if image is None:
            return ("", "")
        return image_parts(image)

    @cached_property
    def update_available(self) -> bool | None:
        """True when latest > current, compared as the update plan does.

        The versions decide, not ``canUpdate``: false there can also mean the server could
        not check, and then ``latest`` merely repeats ``current``.
        """
        if self.version is None or not self.version.latest:
            return None
        order = compare_versions(self.version.latest, self.version.current)
        if order is None:
            return self.version.can_update or None
        return order > 0

    @property
    def update_shown(self) -> bool:
        """The CapRover update wins the status column: it is running, or newer than the deploy."""
        update = self.update
        if update is None:
            return False
        if not update.final or self.deploy is None:
            return True
        return update.updated_at >= self.deploy.updated_at

    @cached_property
    def status(self) -> Status:
        return status_of(self)

    @cached_property
    def search_fields(self) -> Fields:
        repository, tag = self.image_parts
        # The instance's own status only on its own row: every app row of a healthy instance
        # would otherwise match "status:ok", manual ones included.
        statuses = [self.status.word]
        if self.kind is RowKind.INSTANCE:
            statuses.append(str(self.instance_status))
            if self.instance_status is not InstanceStatus.OK:
                statuses.append("failed")  # as the header counts them, whatever the reason
        if self.manual:
            statuses.append("manual")
        if self.deploy is not None:
            statuses.append(str(self.deploy.state))
        if self.update is not None:
            statuses.append(f"caprover: {self.update.state}")
        if self.drift is not None:
            statuses.append(str(self.drift.state))
        if self.update_available:
            statuses.append("update")
        return {
            Field.INSTANCE: (self.instance,),
            Field.APP: (self.app_name,),
            Field.IMAGE: tuple(v for v in (self.image or "", repository, tag) if v),
            Field.STATUS: tuple(statuses),
        }

    @cached_property
    def search_values(self) -> tuple[str, ...]:
        """Every value of ``search_fields``, for terms that look at every column."""
        return tuple(value for values in self.search_fields.values() for value in values)


@lru_cache(maxsize=4096)  # a fleet runs few distinct images; FleetModel.clear() empties it
def image_parts(image: str) -> tuple[str, str]:
    parsed = try_parse_image(image)
    if parsed is not None:
        tag = parsed.tag or ""
        if parsed.digest:
            tag = f"{tag}@{parsed.digest[:19]}" if tag else parsed.digest[:19]
        return (parsed.familiar_repository, tag)
    head, colon, tail = image.rpartition(":")
    if colon and "/" not in tail:
        return (head, tail)
    return (image, "")


def status_of(row: FleetRow) -> Status:
    """What the row is doing now: a deploy or CapRover update (the newer) wins over the audit."""
    if row.update is not None and row.update_shown:
        return Status(f"caprover: {row.update.state}", RUN_TONES[row.update.state])
    if row.deploy is not None:
        return Status(str(row.deploy.state), RUN_TONES[row.deploy.state])
    if row.kind is RowKind.INSTANCE:
        if row.instance_status is InstanceStatus.OK:
            return Status("no apps", Tone.MUTED)
        return Status(str(row.instance_status).replace("_", " "), Tone.FAILED)
    if row.kind is RowKind.MISSING:
        return Status("missing", Tone.MANUAL)
    if row.app is not None and row.app.is_building:
        return Status("building", Tone.ACTIVE)
    if row.manual:
        return Status("manual", Tone.MANUAL)
    if row.image is None:
        return Status("no image", Tone.MUTED)
    return Status("ok", Tone.OK)


@dataclass(frozen=True)
class Counts:
    instances: int
    answered: int
    ok: int
    failed: int
    apps: int
    manual: int
    marked: int
    visible: int
    deploying: int
    updating: int = 0  # instances whose CapRover update is running


class SortColumn(StrEnum):
    """A column the table sorts by; each value is the table's key for that column."""

    INSTANCE = "instance"
    APP = "app"
    IMAGE = "image"
    TAG = "tag"
    STATUS = "status"
    CAPROVER = "caprover"
    DRIFT = "drift"


@dataclass(frozen=True)
class SortOrder:
    """k9s's sort: one column, either way; no column is the default order (vault, then app)."""

    column: SortColumn | None = None
    descending: bool = False

    def next_column(self, columns: Sequence[SortColumn]) -> SortOrder:
        """The next of ``columns``, ascending; after the last one, the default order again."""
        index = columns.index(self.column) if self.column in columns else -1
        if index + 1 >= len(columns):
            return DEFAULT_SORT
        return SortOrder(columns[index + 1])

    def reversed(self) -> SortOrder:
        return replace(self, descending=not self.descending)


DEFAULT_SORT = SortOrder()

# The urgent states first when sorting by status, ascending.
_TONE_RANK = {Tone.FAILED: 0, Tone.ACTIVE: 1, Tone.MANUAL: 2, Tone.DONE: 3, Tone.OK: 4,
              Tone.MUTED: 5}


def _natural(text: str) -> tuple[tuple[int, int, str], ...]:
    """Digits compare as numbers ("1.9.0" before "1.13.1"); letters without case."""
    return tuple(
        (0, int(run), "") if run.isdigit() else (1, 0, run)
        for run in re.findall(r"\d+|\D+", text.casefold())
    )


_SORT_VALUES: dict[SortColumn, Callable[[FleetRow], tuple[Any, ...]]] = {
    SortColumn.INSTANCE: lambda row: _natural(row.instance),
    SortColumn.APP: lambda row: _natural(row.app_name),
    SortColumn.IMAGE: lambda row: (_natural(row.image_parts[0]), _natural(row.image_parts[1])),
    SortColumn.TAG: lambda row: _natural(row.image_parts[1]),
    SortColumn.STATUS: lambda row: (_TONE_RANK[row.status.tone], row.status.word),
    SortColumn.CAPROVER: lambda row: _natural(row.version.current if row.version else ""),
    SortColumn.DRIFT: lambda row: _natural(str(row.drift.state) if row.drift is not None else ""),
}


@dataclass
class Changes:
    """What the table must redo since the last flush."""

    cells: set[str] = field(default_factory=set)  # rows whose cells may differ
    structure: bool = False  # rows added or removed, filter or order changed


class FleetModel:
    def __init__(
        self,
        instance_order: Sequence[str] = (),
        drift: DriftFn | None = None,
        *,
        targets: Targets | None = None,
    ) -> None:
        self.instance_order = {name: index for index, name in enumerate(instance_order)}
        self.drift = drift
        self.targets = targets  # its apps absent on an instance are shown as missing rows
        self.rows: dict[str, FleetRow] = {}
        self.audits: dict[str, InstanceAudit] = {}
        self.marks: set[str] = set()
        self.updates: dict[str, CapRoverUpdate] = {}  # instance -> its last CapRover update
        self.filter: Filter = NO_FILTER
        self.sort: SortOrder = DEFAULT_SORT
        self._changes = Changes(structure=True)
        self._order: list[str] | None = None
        self._visible: list[str] | None = None

    # -- events in -----------------------------------------------------------------------

    def apply_audit(self, audit: InstanceAudit) -> None:
        """Replace one instance's rows; marks and deploy states survive on the same keys."""
        name = audit.instance.name
        if name not in self.instance_order:
            self.instance_order[name] = len(self.instance_order)
        self.audits[name] = audit
        update = self.updates.get(name)
        if update is not None and update.state is RowState.DONE:
            # The audit after a finished update shows the new version: "done" has said its piece.
            del self.updates[name]
        old_keys = {key for key, row in self.rows.items() if row.instance == name}
        new_rows = list(self._rows_of(audit))
        new_keys = {row.key for row in new_rows}
        for key in old_keys - new_keys:
            del self.rows[key]
            self.marks.discard(key)
        for row in new_rows:
            previous = self.rows.get(row.key)
            if previous is not None and previous.deploy is not None:
                row = replace(row, deploy=previous.deploy)
            self.rows[row.key] = row
            self._changes.cells.add(row.key)
        if old_keys != new_keys:
            self._order = None
            self._changes.structure = True
        self._visible = None

    def apply_run_event(self, event: RowEvent, to_image: str | None = None) -> None:
        """A row of a deploy, rollback or CapRover update reached a state."""
        if event.app == CAPROVER_APP:
            self._apply_update(event, to_image)
        else:
            self._apply_deploy(event, to_image)

    def _apply_deploy(self, event: RowEvent, to_image: str | None) -> None:
        row = self.rows.get(event.key)
        if row is None:
            return  # the row vanished in a re-audit; the journal still has it
        previous = row.deploy
        if to_image is None and previous is not None:
            to_image = previous.to_image
        log_tail = event.log_tail or (previous.log_tail if previous is not None else ())
        started = event.started_at
        if started is None and previous is not None and event.state is not RowState.PLANNED:
            started = previous.started_at
        self.rows[event.key] = replace(
            row,
            deploy=DeployStatus(event.state, started, event.at, to_image, event.error, log_tail),
        )
        self._changes.cells.add(event.key)
        self._visible = None

    def _apply_update(self, event: RowEvent, to_image: str | None) -> None:
        """A CapRover update changed state: every row of its instance shows it."""
        if event.state is RowState.SKIPPED:
            return  # the dialog said why; a skipped instance keeps what it showed
        audit = self.audits.get(event.instance)
        current = audit.version.current if audit is not None and audit.version else None
        previous = self.updates.get(event.instance)
        status = CapRoverUpdate(
            event.state,
            previous.from_version if previous is not None else current,
            caprover_version(to_image),
            event.at,
            event.error,
        )
        self.updates[event.instance] = status
        for key, row in list(self.rows.items()):
            if row.instance == event.instance:
                self.rows[key] = replace(row, update=status)
                self._changes.cells.add(key)
        self._visible = None

    def updating_instances(self) -> list[str]:
        return [name for name, update in self.updates.items() if not update.final]

    def reset_deploys(self, keys: Iterable[str]) -> None:
        for key in keys:
            row = self.rows.get(key)
            if row is not None and row.deploy is not None:
                self.rows[key] = replace(row, deploy=None)
                self._changes.cells.add(key)
        self._visible = None

    def set_drift(self, drift: DriftFn | None, *, targets: Targets | None = None) -> None:
        self.drift = drift
        self.targets = targets
        for audit in list(self.audits.values()):
            self.apply_audit(audit)  # missing rows come and go with the targets

    def set_filter(self, new_filter: Filter) -> None:
        if new_filter != self.filter:
            self.filter = new_filter
            self._visible = None
            self._changes.structure = True

    def set_sort(self, order: SortOrder) -> None:
        if order != self.sort:
            self.sort = order
            self._order = None
            self._visible = None
            self._changes.structure = True

    def clear(self) -> None:
        """Forget everything (the idle lock): rows showed what the credentials could read."""
        self.rows.clear()
        self.audits.clear()
        self.marks.clear()
        self.updates.clear()
        self.instance_order.clear()
        self.filter = NO_FILTER
        self._order = None
        self._visible = None
        self._changes = Changes(structure=True)
        image_parts.cache_clear()

    # -- marks ---------------------------------------------------------------------------

    def markable(self, key: str) -> bool:
        row = self.rows.get(key)
        return row is not None and row.kind is RowKind.APP

    def toggle_mark(self, key: str) -> None:
        if not self.markable(key):
            return
        if key in self.marks:
            self.marks.discard(key)
        else:
            self.marks.add(key)
        self._changes.cells.add(key)

    def set_marks(self, keys: Iterable[str], marked: bool) -> None:
        for key in keys:
            if not self.markable(key) or (key in self.marks) == marked:
                continue
            if marked:
                self.marks.add(key)
            else:
                self.marks.discard(key)
            self._changes.cells.add(key)

    def mark_visible(self) -> None:
        self.set_marks(self.visible_keys(), True)

    def unmark_all(self) -> None:
        self.set_marks(list(self.marks), False)

    def invert_visible(self) -> None:
        for key in self.visible_keys():
            self.toggle_mark(key)

    def marked_rows(self) -> list[FleetRow]:
        """Marked rows in display order (including rows the filter hides)."""
        return [self.rows[key] for key in self.ordered_keys() if key in self.marks]

    # -- rows out ------------------------------------------------------------------------

    def ordered_keys(self) -> list[str]:
        if self._order is None:
            order = sorted(self.rows, key=self._sort_key)
            column = self.sort.column
            if column is not None:
                value, rows = _SORT_VALUES[column], self.rows
                # Stable both ways (reverse= keeps ties in order): the default order breaks ties.
                order.sort(key=lambda key: value(rows[key]), reverse=self.sort.descending)
            elif self.sort.descending:
                order.reverse()
            self._order = order
        return self._order

    def visible_keys(self) -> list[str]:
        if self._visible is None:
            if self.filter.active:
                matches = self.filter.matches
                rows = self.rows
                self._visible = [
                    key
                    for key in self.ordered_keys()
                    if matches((row := rows[key]).search_fields, row.search_values)
                ]
            else:
                self._visible = list(self.ordered_keys())
        return self._visible

    def take_changes(self) -> Changes:
        changes, self._changes = self._changes, Changes()
        if changes.cells and self.sort.column is not None:
            # A new state, image or drift can move a row when sorted by a column: sorted
            # again once per flush, not once per event.
            self._order = None
            self._visible = None
        return changes

    def deploying_keys(self) -> list[str]:
        return [
            key
            for key, row in self.rows.items()
            if row.deploy is not None and not row.deploy.state.final
        ]

    def counts(self) -> Counts:
        app_rows = [row for row in self.rows.values() if row.kind is RowKind.APP]
        ok = sum(1 for audit in self.audits.values() if audit.ok)
        return Counts(
            instances=len(self.instance_order),
            answered=len(self.audits),
            ok=ok,
            failed=len(self.audits) - ok,
            apps=len(app_rows),
            manual=sum(1 for row in app_rows if row.manual),
            marked=len(self.marks),
            visible=len(self.visible_keys()),
            deploying=len(self.deploying_keys()),
            updating=len(self.updating_instances()),
        )

    def failed_instances(self) -> list[str]:
        return [name for name, audit in self.audits.items() if not audit.ok]

    def failed_deploy_keys(self) -> list[str]:
        return [
            key
            for key in self.ordered_keys()
            if (deploy := self.rows[key].deploy) is not None
            and deploy.state in (RowState.FAILED, RowState.CANCELLED)
        ]

    # -- internals -----------------------------------------------------------------------

    def _rows_of(self, audit: InstanceAudit) -> Iterable[FleetRow]:
        name = audit.instance.name
        update = self.updates.get(name)
        seen: set[str] = set()
        for app in audit.apps:
            if app.name in seen:
                continue  # a server listing an app twice must not break the table's keys
            seen.add(app.name)
            yield FleetRow(
                key=row_key(name, app.name),
                kind=RowKind.APP,
                instance=name,
                instance_status=audit.status,
                version=audit.version,
                app=app,
                drift=self._drift_of(app),
                update=update,
            )
        if not seen:
            yield FleetRow(
                key=instance_row_key(name),
                kind=RowKind.INSTANCE,
                instance=name,
                instance_status=audit.status,
                instance_error=audit.error,
                version=audit.version,
                update=update,
            )
        if audit.ok and self.targets is not None:
            for app_name, target in self.targets.images.items():
                if app_name in seen:
                    continue
                yield FleetRow(
                    key=row_key(name, app_name),
                    kind=RowKind.MISSING,
                    instance=name,
                    instance_status=audit.status,
                    version=audit.version,
                    drift=Drift(DriftState.MISSING, target, "not on this instance"),
                    update=update,
                    missing_app=app_name,
                )

    def _drift_of(self, app: AppInfo | None) -> Drift | None:
        if self.drift is None or app is None:
            return None
        try:
            return self.drift(app.name, app.image)
        except Exception:  # noqa: BLE001 - a bad targets entry must not hide the row
            return None

    def _sort_key(self, key: str) -> tuple[int, int, str]:
        row = self.rows[key]
        return (
            self.instance_order.get(row.instance, len(self.instance_order)),
            0 if row.kind is RowKind.INSTANCE else 1,
            row.app_name,
        )
