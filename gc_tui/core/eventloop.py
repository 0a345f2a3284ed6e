"""Which event loop the headless commands run on: uvloop's where it is installed.

At 200 instances an audit is bound by the client's CPU per request, and much of that is the
event loop and its socket handling (benchmarks/bench_audit.py: 1.6x the network's bound on
asyncio's own loop, under 1.5x on uvloop's). uvloop is not built for Windows, so it is an
optional speed-up, never a requirement: without it everything runs on asyncio's loop. The
TUI stays on asyncio's loop, which is the one Textual is built and tested on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, Literal, TypeVar

T = TypeVar("T")
LoopChoice = Literal["auto", "uvloop", "asyncio"]


def loop_factory(choice: LoopChoice = "auto") -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's ``new_event_loop`` when chosen (or "auto" and importable); None: asyncio's."""
    if choice == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise
        return None
    return uvloop.new_event_loop


def loop_name(choice: LoopChoice = "auto") -> str:
    return "asyncio" if loop_factory(choice) is None else "uvloop"


def run(main: Coroutine[Any, Any, T], *, choice: LoopChoice = "auto") -> T:
    """``asyncio.run`` on the chosen loop (Ctrl-C cancels ``main``, as with asyncio.run)."""
    with asyncio.Runner(loop_factory=loop_factory(choice)) as runner:
        return runner.run(main)
