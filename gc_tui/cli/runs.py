"""The one confirm-and-run path of every command that changes servers.

deploy, rollback and caprover-update all: print the plan, apply the confirmation rules, run
the engine with Ctrl-C handled (once: start nothing new; twice: stop now), journal every
row, print every row's end and any service group left split, and pick the exit code.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Sequence

from gc_tui.cli.context import EXIT_INCOMPLETE, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, Context
from gc_tui.core.engine import Engine, EventSink, RowEvent, RowResult, RowState
from gc_tui.core.journal import Journal
from gc_tui.core.plan import CONFIRM_COUNT_ABOVE, EVERY_APP, Plan, SkipKind
from gc_tui.core.text import printable
from gc_tui.core.update import UPDATE_ACTION, caprover_version, update_row_json

EngineFactory = Callable[[Journal, EventSink], Engine]

# What each action does to a row, for the questions and messages.
_VERBS = {"deploy": "deploy", "rollback": "roll back", UPDATE_ACTION: "update"}
_DONE_WORDS = {"deploy": "deployed", "rollback": "rolled back", UPDATE_ACTION: "updated"}


async def confirm_and_run(ctx: Context, plan: Plan, make_engine: EngineFactory) -> int:
    """Print ``plan``, ask as the rules say, run it; the exit code."""
    print_plan(ctx, plan)
    # An instance that failed the audit could not even be tried: the fleet is not where the
    # operator asked, and a script must hear it from the exit code, as from gc-tui audit.
    unreached = any(row.kind is SkipKind.INSTANCE_FAILED for row in plan.skipped)
    stop = gate(ctx, plan)
    if stop is not None:
        if stop == EXIT_OK:  # a dry run, or every row skipped: JSON still lists the rows
            print_unrun_plan(ctx, plan)
            if unreached and not ctx.args.dry_run:
                return EXIT_INCOMPLETE
        return stop
    engine = make_engine(ctx.journal(), lambda event: print_event(ctx, event))
    results, interrupted = await run_interruptible(ctx, engine)
    print_results(ctx, plan.action, results)
    for split in engine.splits:
        ctx.err(f"warning: {split.message}")
    planned = [result for result in results if result.state is not RowState.SKIPPED]
    if interrupted:
        return EXIT_INTERRUPTED  # a script can tell an interruption from a failure
    every_row_done = all(r.state is RowState.DONE for r in planned)
    return EXIT_OK if every_row_done and not unreached else EXIT_INCOMPLETE


async def run_interruptible(ctx: Context, engine: Engine) -> tuple[list[RowResult], bool]:
    """First Ctrl-C: start nothing new, let what is in flight end. Second: stop now.

    Either way every row's final state is reported: the engine records it on cancellation.
    Returns the results, and whether Ctrl-C was pressed.
    """
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(engine.run())
    presses = 0

    def on_interrupt() -> None:
        nonlocal presses
        presses += 1
        if presses == 1:
            ctx.err(
                "interrupted: starting nothing new, waiting for work in flight "
                "(Ctrl-C again to stop now)"
            )
            engine.cancel()
        else:
            task.cancel()

    try:
        loop.add_signal_handler(signal.SIGINT, on_interrupt)
        installed = True
    except (NotImplementedError, RuntimeError, ValueError):
        installed = False
    try:
        return await task, presses > 0
    except asyncio.CancelledError:
        return engine.final_results(), True
    finally:
        if installed:
            loop.remove_signal_handler(signal.SIGINT)


def gate(ctx: Context, plan: Plan) -> int | None:
    """The confirmation rules every changing command shares; an exit code means stop.

    --dry-run stops after the plan; read-only refuses; nothing planned is not an error;
    otherwise --yes, or a terminal that answers, or nothing happens (exit 2).
    """
    verb, done_word = _VERBS.get(plan.action, plan.action), _DONE_WORDS.get(plan.action, "changed")
    if ctx.args.dry_run:
        ctx.err(f"dry run: nothing {done_word}")
        return EXIT_OK
    if ctx.settings.read_only:
        ctx.err(f"read-only: nothing {done_word}")
        return EXIT_USAGE
    if not plan.rows:
        ctx.err(f"nothing to {verb}: every row is skipped")
        return EXIT_OK
    if not confirm(ctx, len(plan.rows), verb):
        return EXIT_USAGE
    return None


def confirm(ctx: Context, rows: int, verb: str) -> bool:
    if ctx.args.yes:
        return True
    if not ctx.stdin.isatty():
        ctx.err(f"not a terminal: pass --yes to {verb} without a question; nothing changed")
        return False
    if rows > CONFIRM_COUNT_ABOVE:
        ctx.stderr.write(f"Type the number of rows ({rows}) to {verb} them: ")
        ctx.stderr.flush()
        ok = ctx.stdin.readline().strip() == str(rows)
    else:
        ctx.stderr.write(f"{verb.capitalize()} {rows} row(s)? [y/N] ")
        ctx.stderr.flush()
        ok = ctx.stdin.readline().strip().lower() in ("y", "yes")
    if not ok:
        ctx.err("not confirmed: nothing changed")
    return ok


def _change(from_image: str | None, to_image: str | None, action: str) -> str:
    if action == UPDATE_ACTION:
        return f"CapRover {caprover_version(from_image) or '?'} -> {caprover_version(to_image)}"
    return f"{printable(from_image or '(none)')} -> {printable(to_image or '(none)')}"


def _where(instance: str, app: str) -> str:
    """``instance / app``, or the instance alone for a row that stands for all its apps."""
    return printable(instance) if app == EVERY_APP else f"{printable(instance)} / {printable(app)}"


def print_plan(ctx: Context, plan: Plan) -> None:
    summary = plan.skip_summary()
    lines = [
        f"Plan ({plan.action}): {len(plan.rows)} row(s) to change on "
        f"{len(plan.instances)} instance(s)" + (f"; {summary}" if summary else "")
    ]
    for row in plan.rows:
        added = f"  [added by group {printable(row.group or '')}]" if row.added_by_group else ""
        lines.append(
            f"  {printable(row.instance)} / {printable(row.app)}: "
            f"{_change(row.from_image, row.to_image, plan.action)}{added}"
        )
    for skipped in plan.skipped:
        lines.append(
            f"  skip {_where(skipped.instance, skipped.app)}: "
            f"{printable(skipped.reason)}"
        )
    if plan.action == UPDATE_ACTION and plan.rows:
        lines.append(
            "  Apps may be unreachable for a short time while CapRover restarts "
            "(about a minute, with nginx errors)."
        )
    ctx.progress.write("\n".join(lines) + "\n")
    ctx.progress.flush()


def _row_json(action: str, instance: str, app: str, from_image: str | None,
              to_image: str | None, state: str, error: str | None) -> dict[str, object]:
    if action == UPDATE_ACTION:
        return update_row_json(instance, from_image, to_image, state, error)
    return {"instance": instance, "app": app, "from_image": from_image, "to_image": to_image,
            "state": state, "error": error}


def print_unrun_plan(ctx: Context, plan: Plan) -> None:
    """With --format json, the rows of a plan that was not run, in the run's own shape."""
    from gc_tui.report import render_json

    if ctx.args.format != "json":
        return
    rows = [
        _row_json(plan.action, row.instance, row.app, row.from_image, row.to_image, "planned", None)
        for row in plan.rows
    ] + [
        _row_json(plan.action, row.instance, row.app, row.from_image, row.to_image, "skipped",
                  row.reason)
        for row in plan.skipped
    ]
    ctx.out(render_json({"rows": rows}))


def print_event(ctx: Context, event: RowEvent) -> None:
    if event.state in (RowState.PLANNED, RowState.SKIPPED):
        return
    reason = f": {printable(event.error, 300)}" if event.error else ""
    ctx.progress.write(
        f"{printable(event.instance)} / {printable(event.app)}: {event.state}{reason}\n"
    )
    ctx.progress.flush()


def print_results(ctx: Context, action: str, results: Sequence[RowResult]) -> None:
    from gc_tui.report import render_json

    if ctx.args.format == "json":
        rows = []
        for result in results:
            if action == UPDATE_ACTION:
                rows.append(update_row_json(result.instance, result.from_image, result.to_image,
                                            str(result.state), result.error))
            else:
                rows.append(result.as_json())
        ctx.out(render_json({"rows": rows}))
        return
    lines = ["Result:"]
    for result in results:
        reason = f" ({printable(result.error, 300)})" if result.error else ""
        lines.append(
            f"  {result.state:<9} {_where(result.instance, result.app)}{reason}"
        )
        if result.state is RowState.FAILED:
            for line in result.log_tail[-5:]:
                lines.append(f"      | {printable(line, 200)}")
    ctx.out("\n".join(lines))
