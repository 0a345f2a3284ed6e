"""What a crash prints: where it happened, never what the frames held.

Textual's own crash screen is a Rich traceback with ``show_locals=True``: a local ``password``
or a token dict is printed in clear (docs/security.md#crash-reports). Ours shows the frames and
the exception types only; exception messages are dropped too, because a library's message
can quote a request, and requests carry the admin token.
"""

from __future__ import annotations

import sys
from types import TracebackType

from rich.console import Group, RenderableType
from rich.text import Text
from rich.traceback import Trace, Traceback

HIDDEN = "(message hidden: it may contain secrets)"


def crash_report(
    exc_type: type[BaseException] | None = None,
    exc_value: BaseException | None = None,
    tb: TracebackType | None = None,
) -> RenderableType:
    if exc_type is None:
        exc_type, exc_value, tb = sys.exc_info()
    heading = Text(
        "gc-tui stopped on an unexpected error. No deploy was started by it; deploys already "
        "sent keep running on their servers. Check the deploy log before retrying.",
        style="bold",
    )
    if exc_type is None or exc_value is None:
        return heading
    trace = Traceback.extract(exc_type, exc_value, tb, show_locals=False)
    _scrub(trace)
    return Group(heading, Traceback(trace, show_locals=False, width=100, max_frames=20))


def _scrub(trace: Trace) -> None:
    for stack in trace.stacks:
        stack.exc_value = HIDDEN
        stack.syntax_error = None
        stack.notes = []
        for frame in stack.frames:
            frame.locals = None
        for nested in stack.exceptions:  # exception groups
            _scrub(nested)
