"""A fake fleet over loopback and a real vault pointing at it, and the operator's moves, for
pilot tests (``tests/tui/conftest.py`` makes ``demo_fleet`` with ``start_fleet``)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input

from gc_tui.core.deploy import DeployTiming
from gc_tui.core.secret import Secret
from gc_tui.demo.catalog import demo_instances, demo_vault_entries
from gc_tui.demo.fleet import FakeFleetThread
from gc_tui.demo.instance import FakeInstance
from gc_tui.settings import Settings
from gc_tui.tui.app import GcTuiApp, make_app
from gc_tui.tui.screens.deploy import DeployScreen
from tests.vaults import DEFAULT_PASSWORD, make_vault

FAST_TIMING = DeployTiming(poll_interval=0.05, settle_seconds=0.1, busy_retry_first=0.05,
                     busy_retry_max=0.1, busy_give_up=2.0, build_deadline=20.0)
SIZE = (140, 40)


@dataclass
class Fleet:
    thread: FakeFleetThread
    vault: Path
    instances: list[FakeInstance]

    def instance(self, name: str) -> FakeInstance:
        return self.thread.instance(name)

    def settings(self, **changes: Any) -> Settings:
        base = Settings(vault=self.vault, group="CapRover", deploy_timing=FAST_TIMING,
                        journal_path=self.vault.parent / "deploys.jsonl")
        return replace(base, **changes)

    def app(self, *, unlock: bool = True, **changes: Any) -> GcTuiApp:
        if unlock:
            changes.setdefault("password", Secret(DEFAULT_PASSWORD))
        return make_app(self.settings(**changes))


@contextmanager
def start_fleet(
    tmp_path: Path, instances: list[FakeInstance], *, demo: bool = True
) -> Iterator[Fleet]:
    """``demo``: the vault holds the demo JSON's passwords (one of them is out of date)."""
    with FakeFleetThread(instances) as thread:
        if demo:
            entries = [
                {"title": title, "url": url, "password": password, "group": "CapRover"}
                for title, url, password in demo_vault_entries(thread.urls())
            ]
        else:
            entries = [
                {"title": instance.name, "url": thread.url(instance.name),
                 "password": instance.password, "group": "CapRover"}
                for instance in instances
            ]
        vault = make_vault(tmp_path / "fleet.kdbx", entries)
        yield Fleet(thread, vault, instances)


def fast_demo_instances(**options: Any) -> list[FakeInstance]:
    return demo_instances(build_seconds=0.1, service_update_seconds=0.05, **options)


async def wait_for(
    pilot: Pilot[Any], predicate: Callable[[], object], timeout: float = 10.0, step: float = 0.05
) -> None:
    """Pause until ``predicate()`` holds (flushes included); fail with a clear message.

    ``timeout`` only bounds a hang: tests wait on what the app shows, never on the clock.
    """
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the app")
        await pilot.pause(step)
    await pilot.pause()


async def deploy_from_dialog(
    pilot: Pilot[Any], app: GcTuiApp, image: str, cursor: str | None = None
) -> None:
    """As the operator: ``d`` (on ``cursor``'s row, else on the marks), type ``image``, Deploy."""
    if cursor is not None:
        app.fleet_screen.table.move_to_key(cursor)
    await pilot.press("d")
    await wait_for(pilot, lambda: isinstance(app.screen, DeployScreen))
    app.screen.query_one("#deploy-image", Input).value = image
    await pilot.pause()
    await pilot.click("#deploy")


def audited(app: GcTuiApp, count: int | None = None) -> bool:
    expected = len(app.instances) if count is None else count
    return (
        bool(app.instances)
        and len(app.fleet.audits) >= expected
        and app.auditing == 0
        and not app.rows_pending  # the table shows what the model holds
    )
