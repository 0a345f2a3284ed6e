"""Which event loop the headless commands run on: uvloop's where it is installed.

At 200 instances an audit is bound by the client's CPU per request; with httpx most of it is
httpx, httpcore and anyio, but the loop's callbacks and socket handling are still a share:
benchmarks/bench_audit.py measured the audit about 10 to 20% faster on uvloop's loop than on
asyncio's (200 instances x 100 ms; 40 instances x 150 ms over TLS). tests/test_stderr.py
checks that httpx runs on it with nothing on stderr whatever the network does. uvloop is not
built for Windows, so it is an optional speed-up, never a requirement: without it everything
runs on asyncio's loop. The TUI stays on asyncio's loop, which Textual is built and tested on.
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
