"""``gc-tui log``: the journal's runs (a table, JSON, or a Markdown upgrade note per run), and
``--reconcile`` to settle what a crash left open."""

from __future__ import annotations

from collections.abc import Sequence

from gc_tui.cli.context import EXIT_INCOMPLETE, EXIT_OK, Context, UsageError
from gc_tui.core.journal import JournalRow, JournalRun, read_journal
from gc_tui.core.text import printable


def chosen_runs(ctx: Context) -> list[JournalRun]:
    contents = read_journal(ctx.settings.journal_path)
    if contents.unreadable_lines:
        ctx.err(f"warning: {contents.unreadable_lines} line(s) of the journal could not be read")
    runs = list(contents.runs)
    if ctx.args.run:
        runs = [run for run in runs if run.run_id == ctx.args.run]
        if not runs:
            raise UsageError(f"no run {ctx.args.run!r} in the journal")
    elif ctx.args.last:
        runs = runs[:1]
    return runs


def cmd_log(ctx: Context) -> int:
    if ctx.args.reconcile and ctx.args.format == "markdown":
        # Said before anything is read or asked: the note describes finished runs, and
        # reconciling is what finishes them.
        raise UsageError("--reconcile prints a table or --format json; for the upgrade note, "
                         "run gc-tui log --format markdown after reconciling")
    runs = chosen_runs(ctx)
    if ctx.args.reconcile:
        return _reconcile(ctx, [run for run in runs if run.unsettled])
    shown = [(run, _rows(ctx, run)) for run in runs]
    shown = [(run, rows) for run, rows in shown if rows or not ctx.args.unsettled]
    if ctx.args.format == "json":
        from gc_tui.report import render_json

        ctx.out(render_json({"runs": [run.as_json(rows) for run, rows in shown]}))
    elif ctx.args.format == "markdown":
        from gc_tui.core.upgrade_note import upgrade_notes

        ctx.out(upgrade_notes(shown))
    else:
        empty = "(no unsettled rows)" if ctx.args.unsettled and runs else "(no runs in the journal)"
        ctx.out(log_table(shown) if shown else empty)
    return EXIT_OK


def _rows(ctx: Context, run: JournalRun) -> list[JournalRow]:
    rows = list(run.rows.values())
    return [row for row in rows if not row.settled] if ctx.args.unsettled else rows


def log_table(shown: Sequence[tuple[JournalRun, Sequence[JournalRow]]]) -> str:
    lines: list[str] = []
    for run, rows in shown:
        open_rows = sum(1 for row in run.rows.values() if not row.settled)
        note = f", {open_rows} unsettled" if open_rows else ""
        lines.append(
            f"run {run.run_id}  {run.action}  {run.started_at}  "
            f"{printable(run.user or '?')}  {len(run.rows)} row(s){note}"
        )
        for row in rows:
            error = f"  ({printable(row.error, 200)})" if row.error else ""
            lines.append(
                f"  {row.state:<10} {printable(row.instance)} / {printable(row.app)}: "
                f"{printable(row.from_image or '(none)')} -> {printable(row.to_image or '(none)')}"
                f"{error}"
            )
        for split in run.splits:
            lines.append(f"  warning: {printable(str(split.get('message', '')))}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _reconcile(ctx: Context, runs: list[JournalRun]) -> int:
    from gc_tui.core.eventloop import run
    from gc_tui.core.journal import Journal, JournalError
    from gc_tui.core.reconcile import (
        OPEN,
        Settlement,
        every_row_done,
        reconcile,
        record_settlements,
        splits_after,
    )

    if not runs:
        ctx.err("nothing to reconcile: every row of the chosen runs is settled")
        return EXIT_OK
    instances = ctx.instances()

    async def main() -> list[Settlement]:
        async with ctx.session(instances) as session:
            return await reconcile(session, runs)

    settlements = run(main())
    splits = splits_after(runs, settlements)
    try:
        record_settlements(Journal(ctx.settings.journal_path), settlements, splits)
        unrecorded = None
    except JournalError as failure:
        # What the servers said is still worth printing; the journal keeps the rows open.
        unrecorded = f"the settlements could not be journaled ({failure}); run again later"
    if ctx.args.format == "json":
        from gc_tui.report import render_json

        ctx.out(render_json({"rows": [settlement.as_json() for settlement in settlements]}))
    else:
        lines = ["Reconciled:"]
        for settlement in settlements:
            state = "still open" if settlement.state == OPEN else settlement.state
            reason = f" ({printable(settlement.error, 300)})" if settlement.error else ""
            lines.append(
                f"  {state:<10} {printable(settlement.row.instance)} / "
                f"{printable(settlement.row.app)}{reason}"
            )
            for line in settlement.log_tail[-5:]:
                lines.append(f"      | {printable(line, 200)}")
        ctx.out("\n".join(lines))
    for _, split in splits:
        ctx.err(f"warning: {split.message}")
    if unrecorded is not None:
        ctx.err(unrecorded)
        return EXIT_INCOMPLETE
    return EXIT_OK if every_row_done(runs, settlements) else EXIT_INCOMPLETE
