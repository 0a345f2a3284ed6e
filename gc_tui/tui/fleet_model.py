"""The fleet table's rows as plain data: audits, run events and lookups in; rows, marks,
filter and order out.

No Textual here. The App feeds events in; the fleet screen reads the rows whose cells
changed on a slow timer and writes only those cells (docs/tui.md). What one row is and what
its state means lives in fleet_rows.py; sorting in fleet_sort.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

from gc_tui.core.drift import Drift, DriftState
from gc_tui.core.engine import RowEvent, RowState
from gc_tui.core.images import try_parse_image
from gc_tui.core.model import AppInfo, InstanceAudit
from gc_tui.core.plan import row_key
from gc_tui.core.targets import Targets
from gc_tui.core.update import CAPROVER_APP, caprover_version
from gc_tui.core.upstream import AppUpstream, RepositoryLookup, no_rules
from gc_tui.core.upstream_plan import upstream_of_app
from gc_tui.tui.filter import NO_FILTER, Filter
from gc_tui.tui.fleet_rows import (
    CapRoverUpdate,
    DeployStatus,
    FleetRow,
    RowKind,
    image_parts,
    instance_row_key,
)
from gc_tui.tui.fleet_sort import DEFAULT_SORT, SORT_VALUES, SortOrder

DriftFn = Callable[[str, str | None], Drift | None]  # (app name, deployed image) -> drift

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
        self.lookups: dict[str, RepositoryLookup] = {}  # repository -> what its registry said
        self.lookup_version = 0  # counts lookups applied: views built from them know to redo
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
        if (event.state is RowState.SKIPPED and previous is not None
                and previous.state not in (RowState.DONE, RowState.SKIPPED)):
            # Another run's deploy is live here, or failed (R must still find it): a later
            # run that skipped the row (busy, say) has nothing to say over it.
            return
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

    def apply_lookup(self, lookup: RepositoryLookup) -> None:
        """A registry answered for one repository: every row running from it is judged again.

        The same answer again (the cache's, then the registry's; one listing shared by the
        lookups of several tags) changes nothing, and only rows whose state moved repaint.
        """
        known = self.lookups.get(lookup.repository)
        self.lookups[lookup.repository] = lookup
        if known is not None and _same_answer(known, lookup):
            return
        self.lookup_version += 1
        rules = self.targets.tag_filter_for if self.targets is not None else no_rules
        changed = False
        for key, row in list(self.rows.items()):
            if row.app is not None and row.repository == lookup.repository:
                upstream = upstream_of_app(row.app, self.lookups, rules)
                if upstream != row.upstream:
                    self.rows[key] = replace(row, upstream=upstream)
                    self._changes.cells.add(key)
                    changed = True
        if changed:
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
                value, rows = SORT_VALUES[column], self.rows
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
        warnings = audit.instance.warnings
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
                upstream=self._upstream_of(app),
                instance_warnings=warnings,
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
                instance_warnings=warnings,
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
                    instance_warnings=warnings,
                )

    def upstream_of(self, instance: str, app: AppInfo) -> AppUpstream | None:
        """What the registries said of ``app`` (the matrix asks per instance and app)."""
        return self._upstream_of(app)

    def _upstream_of(self, app: AppInfo) -> AppUpstream | None:
        """None until the registry of the app's repository has answered (or when the app
        runs nothing a registry could know: a server build, no image)."""
        if not self.lookups or app.image is None:
            return None
        parsed = try_parse_image(app.image)
        if parsed is None or parsed.repository not in self.lookups:
            return None
        rules = self.targets.tag_filter_for if self.targets is not None else no_rules
        return upstream_of_app(app, self.lookups, rules)

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


def _same_answer(a: RepositoryLookup, b: RepositoryLookup) -> bool:
    return a.tags == b.tags and a.error == b.error and dict(a.details) == dict(b.details)
