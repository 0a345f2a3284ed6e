"""The matrix view as plain data: the core grid (core/matrix.py) seen through the fleet model.

No Textual here. ``MatrixGrid`` keeps one ``core.matrix.MatrixRow`` per instance, built again
only when that instance's audit (or the targets) changed, so a row of 12 cells costs nothing
until its server answers again. ``shown`` applies what the fleet model holds: the filter
(instances filter rows, ``app:`` filters columns), the sort's instance order, marks and
deploy states. ``cell_look`` is the single source of truth for what a cell shows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from gc_tui.core.drift import Drift, drift_of
from gc_tui.core.engine import RowState
from gc_tui.core.matrix import (
    STATE_GLYPHS,
    MatrixCell,
    MatrixRow,
    UpstreamOf,
    column_order,
    count_states,
    matrix_row,
)
from gc_tui.core.matrix_fit import text_width
from gc_tui.core.model import InstanceAudit
from gc_tui.core.targets import Targets
from gc_tui.tui.fleet_model import FleetModel
from gc_tui.tui.fleet_rows import RUN_TONES, FleetRow, RowKind, Tone

# How each state looks (docs/matrix.md, "Colours"): work waiting is a warning, what is fine
# is green, what nobody can act on is muted. The glyph and the word say it without colour.
STATE_TONES: Mapping[str, Tone] = MappingProxyType({
    "current": Tone.OK,
    "behind": Tone.MANUAL,
    "stale": Tone.MANUAL,
    "repushed": Tone.MANUAL,
    "other-repo": Tone.MANUAL,
    "floating": Tone.MANUAL,
    "manual": Tone.MANUAL,
    "missing": Tone.MANUAL,
    "ahead": Tone.ACTIVE,
    "held": Tone.MUTED,
    "unmanaged": Tone.MUTED,
    "incomparable": Tone.MUTED,
    "unknown": Tone.MUTED,
})
DEPLOY_GLYPH = "»"  # a deploy is running on the cell
FAILED_GLYPH = "✗"  # a deploy on the cell failed, or the instance did not answer
MISSING_TEXT = "missing"
# A deploy's own state shows on its cell while it runs and after it failed; once done, the
# audit that follows shows the new tag.
_DEPLOY_SHOWN = frozenset(RowState) - {RowState.DONE, RowState.SKIPPED}


@dataclass(frozen=True)
class CellLook:
    """What one cell draws: a glyph, its text and a tone; ``word`` names the state."""

    glyph: str
    text: str
    tone: Tone
    word: str


ABSENT_LOOK = CellLook(" ", "-", Tone.MUTED, "absent")


def cell_look(cell: MatrixCell, row: FleetRow | None) -> CellLook:
    """The cell's state, or its deploy's while one runs (or failed) on it."""
    deploy = row.deploy if row is not None else None
    if deploy is not None and deploy.state in _DEPLOY_SHOWN:
        tone = RUN_TONES[deploy.state]
        glyph = FAILED_GLYPH if tone is Tone.FAILED else DEPLOY_GLYPH
        return CellLook(glyph, str(deploy.state), tone, str(deploy.state))
    if cell.state is None:
        return ABSENT_LOOK
    word = str(cell.state)
    text = MISSING_TEXT if word == MISSING_TEXT else cell.text
    return CellLook(STATE_GLYPHS[word], text, STATE_TONES[word], word)


@dataclass(frozen=True)
class ShownGrid:
    """The rows and columns on screen, and which cells the filter keeps."""

    instances: tuple[str, ...]
    apps: tuple[str, ...]
    rows: Mapping[str, MatrixRow]
    matching: frozenset[str] | None = None  # cell keys the filter keeps; None: no filter
    widths: Mapping[str, int] = field(default_factory=dict)  # app -> its widest text
    row_counts: Mapping[str, Counter[str]] = field(default_factory=dict)  # per instance

    def in_filter(self, key: str) -> bool:
        return self.matching is None or key in self.matching

    def counts(self) -> Counter[str]:
        """Cells per state among the cells shown and kept by the filter."""
        found: Counter[str] = Counter()
        if self.matching is None and self.row_counts:
            for instance in self.instances:  # every cell of every row: counted when built
                found.update(self.row_counts[instance])
            return found
        for instance in self.instances:
            row = self.rows[instance]
            for app in self.apps:
                cell = row.cells.get(app)
                if cell is not None and cell.state is not None and self.in_filter(cell.key):
                    found[str(cell.state)] += 1
        return found

    @property
    def failed(self) -> int:
        return sum(1 for instance in self.instances if not self.rows[instance].ok)


EMPTY_GRID = ShownGrid((), (), {})


class MatrixGrid:
    """The core rows of every answered instance, and the columns they make."""

    def __init__(self, upstream: UpstreamOf | None = None) -> None:
        self.upstream = upstream  # None until upstream lookups reach the TUI: set_upstream
        # instance -> (the audit its row was built from, the row, each cell's text width)
        self._rows: dict[str, tuple[InstanceAudit, MatrixRow, dict[str, int]]] = {}
        self._counts: dict[str, Counter[str]] = {}  # instance -> its cells per state
        self._targets: Targets | None = None
        self._drifts: dict[tuple[str, str | None], Drift] = {}  # drift_of, per (app, image)
        self._columns: tuple[str, ...] = ()
        self._widths: dict[str, int] = {}
        # The model, and how many of its lookups, this grid's rows were built with.
        self._model: FleetModel | None = None
        self._lookup_version = 0

    def set_upstream(self, upstream: UpstreamOf | None) -> None:
        """New upstream lookups: every row is built again at the next update (rows are
        otherwise built again only when their instance's audit changes)."""
        self.upstream = upstream
        self._rows.clear()
        self._counts.clear()

    def forget(self) -> None:
        self.upstream, self._model, self._lookup_version = None, None, 0
        self._rows.clear()
        self._counts.clear()
        self._drifts.clear()
        self._columns = ()
        self._widths = {}

    def update(self, fleet: FleetModel) -> bool:
        """Rows built again for the audits that changed; True when any did."""
        if fleet.targets is not self._targets:
            self._targets = fleet.targets
            self._rows.clear()
            self._counts.clear()
            self._drifts.clear()
        if fleet is not self._model or fleet.lookup_version != self._lookup_version:
            # A registry answered (or a new unlock): the cells may change state.
            self._model, self._lookup_version = fleet, fleet.lookup_version
            self.set_upstream(fleet.upstream_of if fleet.lookups else None)
        changed = False
        for name in [name for name in self._rows if name not in fleet.audits]:
            del self._rows[name]
            del self._counts[name]
            changed = True
        for name, audit in fleet.audits.items():
            kept = self._rows.get(name)
            if kept is None or kept[0] is not audit:
                row = matrix_row(audit, fleet.targets, self.upstream, self._drift)
                self._rows[name] = (audit, row, _text_widths(row))
                self._counts[name] = count_states(row.cells.values())
                changed = True
        if changed:
            apps = {app for _, row, _ in self._rows.values() for app in row.cells}
            groups = fleet.targets.groups if fleet.targets is not None else {}
            self._columns = column_order(apps, groups)
            widths: dict[str, int] = {}
            for _, _, row_widths in self._rows.values():
                for app, width in row_widths.items():
                    if width > widths.get(app, 0):
                        widths[app] = width
            self._widths = widths
        return changed

    def _drift(self, app_name: str, image: str | None) -> Drift:
        key = (app_name, image)
        found = self._drifts.get(key)
        if found is None:
            found = self._drifts[key] = drift_of(app_name, image, self._targets or Targets({}))
        return found

    def shown(self, fleet: FleetModel) -> ShownGrid:
        """The instances with a row the filter keeps, in the model's order, and the columns
        of those rows; with no filter, every answered instance and every column."""
        rows = {name: row for name, (_, row, _) in self._rows.items()}
        instances: list[str] = []
        seen: set[str] = set()
        apps: set[str] = set()
        filtering = fleet.filter.active
        for key in fleet.visible_keys():
            fleet_row = fleet.rows[key]
            name = fleet_row.instance
            if name not in rows:
                continue
            if name not in seen:
                seen.add(name)
                instances.append(name)
            if filtering and fleet_row.kind is not RowKind.INSTANCE:
                apps.add(fleet_row.app_name)
        columns = (tuple(app for app in self._columns if app in apps) if filtering
                   else self._columns)
        matching = frozenset(fleet.visible_keys()) if filtering else None
        return ShownGrid(tuple(instances), columns, rows, matching, self._widths, self._counts)


def _text_widths(row: MatrixRow) -> dict[str, int]:
    """Each cell's text width (a deploy's word is cut to fit the column, not the reverse)."""
    return {app: text_width(cell_look(cell, None).text) for app, cell in row.cells.items()}
