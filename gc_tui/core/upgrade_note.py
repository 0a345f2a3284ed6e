"""The upgrade note: what one journaled run changed, as Markdown for the communities.

``gc-tui log --last --format markdown`` prints it. A reader wants to know what moved where,
so the note is grouped by app (in the matrix's column order), then by instance: each change
from -> to with the instances it reached, the instances already there, and the ones skipped
or failed with their reasons. It names no secret: the journal holds none, server URLs are
left out, and a URL in a reason loses any user and password it carries. Every string from
the journal is made printable and escaped, so it is read as text, never as Markdown.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from gc_tui.core.images import try_parse_image
from gc_tui.core.journal import JournalRow, JournalRun
from gc_tui.core.matrix import column_order, image_tag
from gc_tui.core.plan import EVERY_APP
from gc_tui.core.text import printable
from gc_tui.core.update import CAPROVER_APP, UPDATE_ACTION

REASON_LENGTH = 300
_TITLES = {"deploy": "Upgrade", "rollback": "Rollback", UPDATE_ACTION: "CapRover update"}
_FAILED = frozenset({"failed", "cancelled", "not sent"})
# What can start or end markup inside a line (emphasis, code, links, HTML, table cells);
# escaped, it reads as itself. Nothing from the journal starts a line, so # - + need nothing.
_MARKDOWN = re.compile(r"([\\`*_\[\]<>|~])")
_USERINFO = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s@]*@")


def plain(value: object, max_len: int | None = None) -> str:
    """Journal text for Markdown: printable, no credentials in URLs, markup escaped."""
    text = _USERINFO.sub(r"\1", printable(value, max_len))
    return _MARKDOWN.sub(r"\\\1", text)


def code(value: str) -> str:
    """An image or a tag as inline code, which Markdown shows as typed."""
    text = _USERINFO.sub(r"\1", printable(value))
    return f"`{text}`" if "`" not in text else plain(text)


@dataclass(frozen=True)
class Move:
    """The from -> to of one row, as short as it stays clear."""

    from_text: str
    to_text: str

    @classmethod
    def of(cls, row: JournalRow) -> Move:
        if row.from_image is None or row.to_image is None:
            return cls(_shown(row.from_image), _shown(row.to_image))
        from_ref, to_ref = try_parse_image(row.from_image), try_parse_image(row.to_image)
        if from_ref is not None and to_ref is not None and from_ref.repository == to_ref.repository:
            return cls(code(image_tag(row.from_image)), code(image_tag(row.to_image)))
        return cls(code(row.from_image), code(row.to_image))  # a new repository: say which


def _shown(image: str | None) -> str:
    return code(image) if image is not None else "(none)"


def _names(rows: Iterable[JournalRow]) -> str:
    return ", ".join(plain(name) for name in sorted({row.instance for row in rows}))


def _count(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _app_title(app: str) -> str:
    return "CapRover" if app == CAPROVER_APP else plain(app)


def _app_lines(rows: Sequence[JournalRow]) -> list[str]:
    lines: list[str] = []
    done = [row for row in rows if row.state == "done"]
    moves: dict[Move, list[JournalRow]] = {}
    for row in done:
        moves.setdefault(Move.of(row), []).append(row)
    for move, moved in moves.items():
        count = _count(len({row.instance for row in moved}), "instance")
        lines.append(f"- {move.from_text} → {move.to_text} on {count}: {_names(moved)}")
    already = [row for row in rows if _already(row)]
    by_image: dict[str, list[JournalRow]] = {}
    for row in already:
        by_image.setdefault(row.to_image or "", []).append(row)
    for image, kept in by_image.items():
        lines.append(f"- already on {code(image_tag(image))}: {_names(kept)}")
    already_keys = {row.key for row in already}
    skipped = [row for row in rows if row.state == "skipped" and row.key not in already_keys]
    by_reason: dict[str, list[JournalRow]] = {}
    for row in skipped:
        by_reason.setdefault(plain(row.error or "no reason given", REASON_LENGTH), []).append(row)
    for reason, left in by_reason.items():
        lines.append(f"- skipped on {_names(left)}: {reason}")
    for row in sorted((row for row in rows if row.state in _FAILED), key=lambda r: r.instance):
        reason = plain(row.error or "no reason given", REASON_LENGTH)
        lines.append(f"- {row.state} on {plain(row.instance)}: {reason}")
    for row in sorted((row for row in rows if not row.settled), key=lambda r: r.instance):
        lines.append(
            f"- not settled on {plain(row.instance)} (last known: {plain(row.state)}); "
            "`gc-tui log --reconcile` settles it"
        )
    return lines


def _already(row: JournalRow) -> bool:
    """Skipped because it runs the image already: done before this run, not left out."""
    return row.state == "skipped" and row.from_image is not None and row.from_image == row.to_image


def _summary(rows: Sequence[JournalRow]) -> str:
    done = [row for row in rows if row.state == "done"]
    failed = sum(1 for row in rows if row.state in _FAILED)
    already = sum(1 for row in rows if _already(row))
    skipped = sum(1 for row in rows if row.state == "skipped") - already
    open_rows = sum(1 for row in rows if not row.settled)
    parts = [
        f"**{_count(len(done), 'app')} changed** on "
        f"{_count(len({row.instance for row in done}), 'instance')}"
    ]
    if failed:
        parts.append(f"**{failed} failed**")
    if already:
        parts.append(f"{already} already up to date")
    if skipped:
        parts.append(f"{skipped} skipped")
    if open_rows:
        parts.append(f"**{open_rows} not settled**")
    return "; ".join(parts) + "."


def upgrade_note(run: JournalRun, rows: Sequence[JournalRow] | None = None) -> str:
    """The note for ``run`` (``rows``: a subset of its rows, such as the unsettled ones)."""
    chosen = list(run.rows.values()) if rows is None else list(rows)
    date, _, time = run.started_at.partition("T")
    title = _TITLES.get(run.action, plain(run.action).capitalize())
    lines = [f"# {title} of {plain(date) or 'an unknown date'}", "", _summary(chosen)]
    if run.splits:
        lines += ["", "**Needs attention:**", ""]
        lines += [f"- {plain(split.get('message', ''), REASON_LENGTH)}" for split in run.splits]
    unreached = sorted((row for row in chosen if row.app == EVERY_APP), key=lambda r: r.instance)
    if unreached:
        lines += ["", "**Not reached:**", ""]
        lines += [f"- {plain(row.instance)}: {plain(row.error or 'no reason given', REASON_LENGTH)}"
                  for row in unreached]
    by_app: dict[str, list[JournalRow]] = {}
    for row in chosen:
        if row.app != EVERY_APP:
            by_app.setdefault(row.app, []).append(row)
    for app in column_order(by_app):
        lines += ["", f"## {_app_title(app)}", "", *_app_lines(by_app[app])]
    started = f"{date} {time[:5]} UTC" if time else plain(run.started_at)
    lines += ["", "---", "", f"_gc-tui run {plain(run.run_id)} ({plain(run.action)}), "
              f"started {started}._"]
    return "\n".join(lines) + "\n"


def upgrade_notes(shown: Sequence[tuple[JournalRun, Sequence[JournalRow]]]) -> str:
    """One note per run, newest first, each after a rule."""
    if not shown:
        return "_No runs in the journal._\n"
    return "\n".join(upgrade_note(run, rows) for run, rows in shown)
