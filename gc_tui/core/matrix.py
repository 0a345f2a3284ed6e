"""The fleet at a glance: one row per instance, one column per app, each cell a tag and a state.

The TUI's matrix view and ``audit --format matrix`` both read this module, so the grid on
screen and the grid on stdout are the same data. No Textual here.

A cell's state is chosen by ``cell_state``, the one place that says which fact wins:

1. ``manual``, ``held`` and ``missing`` first: they are about what may be done at all (a server
   build needs a human, a held image is never batch-upgraded, an absent app has no image), so
   no registry answer may hide them, just as they come first in ``drift.drift_of``.
2. Otherwise the upstream state when a lookup answered (``current``, ``behind``, ``repushed``,
   ``floating``): what the registry has is the newer fact than what a targets file pinned.
3. Otherwise the drift state against the targets (``unmanaged`` with no targets file).

The two enums share words (``current``, ``floating``, ``manual``, ``unknown``), and as
``StrEnum`` members equal words compare and hash alike, so a legend counts them together.
Column order: docs/matrix.md, "Column order".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from gc_tui.core.drift import Drift, DriftState, drift_of
from gc_tui.core.groups import BUILTIN_GROUPS, MEMBER_SUFFIXES, base_name
from gc_tui.core.images import is_server_build, try_parse_image
from gc_tui.core.model import AppInfo, InstanceAudit, InstanceStatus
from gc_tui.core.plan import row_key
from gc_tui.core.targets import Targets
from gc_tui.core.upstream import (
    AppUpstream,
    RepositoryLookup,
    TagRules,
    UpstreamState,
    no_rules,
)
from gc_tui.core.upstream_plan import upstream_of_app

CellState = DriftState | UpstreamState

# (instance name, app) -> its upstream state, or None when nobody looked it up.
UpstreamOf = Callable[[str, AppInfo], AppUpstream | None]
# (app name, deployed image) -> its drift against the targets: ``drift.drift_of``, or a memo
# of it (a fleet runs few distinct images, and the TUI builds rows as servers answer).
DriftOf = Callable[[str, str | None], Drift]

# The Guardian Connector stack, as its installer names the apps, each service group together
# (docs/matrix.md, "Column order").
STACK_GROUPS: tuple[tuple[str, ...], ...] = (
    ("postgres",),
    ("redis",),
    BUILTIN_GROUPS["windmill"],
    ("windmill-lsp",),
    BUILTIN_GROUPS["superset"],
    ("gc-landing-page",),
    ("explorer",),
    ("comapeo",),
    ("files",),
)
STACK_APPS: tuple[str, ...] = tuple(app for group in STACK_GROUPS for app in group)

# One glyph per state word, so a state reads without colour; the legend spells the words.
STATE_GLYPHS: Mapping[str, str] = MappingProxyType({
    "current": "✓",
    "behind": "↓",
    "stale": "↓",
    "repushed": "↻",
    "ahead": "↑",
    "other-repo": "≠",
    "floating": "~",
    "manual": "✎",
    "missing": "∅",
    "held": "‖",
    "unmanaged": "·",
    "incomparable": "≈",
    "unknown": "?",
})
# The legend's order: what asks for work first, what needs nothing last.
LEGEND_ORDER: tuple[str, ...] = tuple(STATE_GLYPHS)

ABSENT_TEXT = "-"  # the app is not on the instance and no target names it
MANUAL_TEXT = "manual"  # a server build: its tag is CapRover's version counter, not a release


def cell_state(drift: Drift, upstream: AppUpstream | None) -> CellState:
    """The state a cell shows; see the module docstring for the order and why."""
    if drift.state in (DriftState.MANUAL, DriftState.HELD, DriftState.MISSING):
        return drift.state
    if upstream is not None and upstream.state is not UpstreamState.UNKNOWN:
        return upstream.state
    return drift.state


def image_tag(image: str) -> str:
    """The tag an image runs, as the matrix shows it: ``latest`` when none is written,
    ``@sha256:1234567`` when a digest alone pins it."""
    if "@" not in image:
        # Without a digest the tag is what follows the last ':' of the last path component
        # (a ':' before a '/' is a registry's port); parsing the whole reference costs 50x.
        head, colon, tail = image.rpartition(":")
        return tail if colon and head and "/" not in tail else "latest"
    parsed = try_parse_image(image)
    if parsed is not None and parsed.effective_tag is not None:
        return parsed.effective_tag
    if parsed is not None:
        return f"@{(parsed.digest or '')[:14]}"
    return image.rpartition("@")[0].rpartition(":")[2]


@dataclass(frozen=True)
class MatrixCell:
    """One app on one instance; ``present`` False for an app the instance does not have."""

    instance: str
    app: str
    present: bool
    image: str | None
    state: CellState | None  # None: absent, and no target names the app
    detail: str = ""  # one short sentence: why this state

    @property
    def key(self) -> str:
        """The fleet table's row key: a cell and its table row are marked together."""
        return row_key(self.instance, self.app)

    @property
    def tag(self) -> str:
        return image_tag(self.image) if self.image is not None else ""

    @property
    def text(self) -> str:
        """What the cell says: the tag, ``manual`` for a server build, ``-`` when absent."""
        if not self.present:
            return ABSENT_TEXT
        if self.image is not None and is_server_build(self.image):
            return MANUAL_TEXT
        return self.tag or "?"


@dataclass(frozen=True)
class MatrixRow:
    """One instance: its cells by app, or why it could not say (``ok`` False)."""

    instance: str
    status: InstanceStatus
    error: str | None = None
    cells: Mapping[str, MatrixCell] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "cells", MappingProxyType(dict(self.cells)))

    @property
    def ok(self) -> bool:
        return self.status is InstanceStatus.OK

    @property
    def status_text(self) -> str:
        """``unreachable: connection refused``: what a failed row shows across its cells."""
        word = str(self.status).replace("_", " ")
        return f"{word}: {self.error}" if self.error else word

    def cell(self, app: str) -> MatrixCell:
        found = self.cells.get(app)
        if found is not None:
            return found
        return MatrixCell(self.instance, app, present=False, image=None, state=None)


@dataclass(frozen=True)
class Matrix:
    apps: tuple[str, ...]  # the columns, in column_order
    rows: tuple[MatrixRow, ...]  # the instances, in the audit's order

    def counts(self) -> Counter[str]:
        """Cells per state word (absent cells and failed instances are not cells)."""
        return count_states(cell for row in self.rows for cell in row.cells.values())

    @property
    def failed(self) -> int:
        return sum(1 for row in self.rows if not row.ok)


def count_states(cells: Iterable[MatrixCell]) -> Counter[str]:
    return Counter(str(cell.state) for cell in cells if cell.state is not None)


def _no_targets() -> Targets:
    # An empty file still holds Postgres back (targets.DEFAULT_HOLD), as drift does.
    return Targets(images={})


def matrix_row(
    audit: InstanceAudit,
    targets: Targets | None = None,
    upstream: UpstreamOf | None = None,
    drift_fn: DriftOf | None = None,
) -> MatrixRow:
    """One instance's cells: its apps, then the target apps it lacks (``missing``).

    ``drift_fn``: ``drift_of`` against ``targets`` unless given (the same function, memoised).
    """
    name = audit.instance.name
    if not audit.ok:
        return MatrixRow(name, audit.status, audit.error)
    targets = targets if targets is not None else _no_targets()
    cells: dict[str, MatrixCell] = {}
    for app in audit.apps:
        if app.name in cells:
            continue  # a server listing an app twice: the first one, as the table does
        drift = (drift_fn(app.name, app.image) if drift_fn is not None
                 else drift_of(app.name, app.image, targets))
        found = upstream(name, app) if upstream is not None else None
        state = cell_state(drift, found)
        detail = drift.detail if found is None or state is drift.state else _upstream_detail(found)
        cells[app.name] = MatrixCell(name, app.name, True, app.image, state, detail)
    for app_name, target in targets.images.items():
        if app_name not in cells:
            cells[app_name] = MatrixCell(
                name, app_name, False, None, DriftState.MISSING, f"not here; target {target}"
            )
    return MatrixRow(name, audit.status, audit.error, cells)


def _upstream_detail(upstream: AppUpstream) -> str:
    """What the state means for this cell (the legend writes the state word before it)."""
    newest = f"newest upstream {upstream.newest}" if upstream.newest else ""
    if upstream.state is UpstreamState.CURRENT:
        return "the newest tag upstream"
    if upstream.state is UpstreamState.REPUSHED:
        return "the registry's tag now points to another image: redeploy to get it"
    if upstream.state is UpstreamState.FLOATING:
        return f"runs a moving tag; {newest}" if newest else "runs a moving tag"
    if upstream.state is UpstreamState.UNKNOWN:
        return str(upstream.error) if upstream.error is not None else "no answer"
    return newest or upstream.label


def build_matrix(
    audits: Sequence[InstanceAudit],
    targets: Targets | None = None,
    upstream: UpstreamOf | None = None,
) -> Matrix:
    """The whole grid; ``upstream`` is optional (no lookups: drift states only)."""
    rows = tuple(matrix_row(audit, targets, upstream) for audit in audits)
    groups = targets.groups if targets is not None else {}
    return Matrix(column_order(matrix_apps(rows), groups), rows)


def matrix_apps(rows: Iterable[MatrixRow]) -> set[str]:
    return {app for row in rows for app in row.cells}


def upstream_from_lookups(
    lookups: Mapping[str, RepositoryLookup], rules: TagRules = no_rules
) -> UpstreamOf:
    """The upstream of each app from a lookup per repository (``upstream_plan.upstream_of_app``)."""

    def of(_instance: str, app: AppInfo) -> AppUpstream:
        return upstream_of_app(app, lookups, rules)

    return of


# -- column order ------------------------------------------------------------------------------

_STACK_POSITION = {app: index for index, app in enumerate(STACK_APPS)}
# Where a member of a convention-named group sits after its base: "-worker" before
# "-worker-native" and "-init-and-beat", in the order the built-in groups list them.
_SUFFIX_POSITION = {
    member[len(base):]: index
    for base, members in BUILTIN_GROUPS.items()
    for index, member in enumerate(members)
    if member != base
}


def column_order(
    apps: Iterable[str], groups: Mapping[str, Sequence[str]] | None = None
) -> tuple[str, ...]:
    """The stack's apps in the stack's order, then the rest alphabetically, each service
    group's members together (a targets file's ``[groups]``, else the one-click naming)."""
    explicit: dict[str, tuple[str, int]] = {}
    for members in (groups or {}).values():
        for index, member in enumerate(members):
            explicit.setdefault(member, (members[0], index))

    def key(app: str) -> tuple[int, str, int, str]:
        if app in _STACK_POSITION:
            return (0, "", _STACK_POSITION[app], app)
        if app in explicit:
            anchor, index = explicit[app]
            return (1, anchor, index, app)
        base = base_name(app)
        if base == app:
            return (1, app, 0, app)
        return (1, base, 1 + _SUFFIX_POSITION.get(app[len(base):], len(MEMBER_SUFFIXES)), app)

    return tuple(sorted(set(apps), key=key))
