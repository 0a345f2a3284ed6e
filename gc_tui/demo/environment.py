"""The demo's world: the fake fleet on loopback, its vault, targets and config.

Everything lives in a temporary folder removed on exit, except the vault, which is kept in
the cache folder per gc-tui version and fleet address: the demo's fleet listens on the same
loopback ports each time when they are free, so a warm start reuses the vault it wrote before,
and the journal, kept in its own folder beside the operator's (never in the real one), so
``gc-tui demo log --last --format markdown`` shows the note of the demo run before it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gc_tui import __version__
from gc_tui.core.journal import JOURNAL_NAME, state_dir

if TYPE_CHECKING:
    from gc_tui.demo.fleet import FakeFleetThread
    from gc_tui.demo.instance import FakeInstance

DEMO_PASSWORD = "demo"
PRIVATE_REGISTRY = "registry.example.org"  # the demo vault holds its login
# Where the demo fleet listens when it can: a warm start then finds its vault in the cache.
FIRST_PORT = 47310


@dataclass(frozen=True)
class DemoWorld:
    vault: Path
    targets: Path
    config: Path
    journal: Path
    urls: Mapping[str, str]


def demo_journal() -> Path:
    """The demo's own journal: beside the operator's, never in it."""
    return state_dir() / "demo" / JOURNAL_NAME


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gc-tui"


def _start_fleet(instances: list[FakeInstance], prefer_ports: bool) -> FakeFleetThread:
    from gc_tui.demo.fleet import FakeFleetThread

    ports = {instance.name: FIRST_PORT + n for n, instance in enumerate(instances)}
    if prefer_ports:
        try:
            return FakeFleetThread(instances, ports=ports).start()
        except OSError:
            pass  # a port is taken (another demo?): any free ports then
    return FakeFleetThread(instances).start()


def _vault_for(urls: Mapping[str, str], folder: Path) -> Path:
    """The demo vault for these addresses: from the cache when it was written before."""
    from gc_tui.demo.catalog import demo_vault_entries
    from gc_tui.demo.demo_vault import write_demo_vault
    from gc_tui.demo.registry_catalog import DEMO_REGISTRY_PASSWORD, DEMO_REGISTRY_USER

    entries = demo_vault_entries(urls)
    logins = {PRIVATE_REGISTRY: (DEMO_REGISTRY_USER, DEMO_REGISTRY_PASSWORD)}
    digest = hashlib.sha256(json.dumps([__version__, entries]).encode()).hexdigest()[:16]
    cached = cache_dir() / f"demo-{__version__}-{digest}.kdbx"
    if cached.is_file():
        with contextlib.suppress(OSError):
            cached.touch()  # in use: _forget_old_vaults keeps it
        return cached
    try:
        cached.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_demo_vault(cached, entries, DEMO_PASSWORD, registry_logins=logins)
        _forget_old_vaults(keep=cached)
        return cached
    except OSError:  # no writable cache: the temporary folder will do
        vault = folder / "demo-fleet.kdbx"
        write_demo_vault(vault, entries, DEMO_PASSWORD, registry_logins=logins)
        return vault


def _forget_old_vaults(keep: Path, unused_for: float = 86400.0) -> None:
    """Other ports and versions leave their own vaults: drop those unused for a day (not
    sooner: another demo may be waiting at its unlock screen to read one)."""
    now = time.time()
    for old in keep.parent.glob("demo-*.kdbx"):
        with contextlib.suppress(OSError):
            if old != keep and now - old.stat().st_mtime > unused_for:
                old.unlink()


@contextmanager
def demo_world(*, prefer_ports: bool = True, keep_journal: bool = True) -> Iterator[DemoWorld]:
    """The demo's world while the block runs. ``keep_journal=False`` journals into the
    temporary folder (the screenshots, which must not depend on earlier demo runs)."""
    from gc_tui.core.targets import save_targets, targets_from_mapping
    from gc_tui.demo.catalog import demo_fleet_data, demo_instances
    from gc_tui.demo.demo_vault import REGISTRIES_GROUP
    from gc_tui.demo.registry_catalog import DEMO_UPSTREAM_RULES, DemoRegistries

    # Builds take a few seconds, as small images do on a real server, so progress is visible.
    instances = demo_instances(build_seconds=2.5, service_update_seconds=1.0)
    fleet = _start_fleet(instances, prefer_ports)
    # The registries the demo's apps come from, on the fleet's loop: NEWEST needs no network.
    registries = DemoRegistries()
    fleet.call(registries.start)
    try:
        with tempfile.TemporaryDirectory(prefix="gc-tui-demo-") as tmp:
            folder = Path(tmp)
            urls = fleet.urls()
            targets = folder / "targets.toml"
            save_targets(targets, targets_from_mapping(
                demo_fleet_data()["target_images"], upstream=DEMO_UPSTREAM_RULES
            ))
            config = folder / "config.toml"
            config.write_text(
                'group = "CapRover"\n\n'
                + registries.config_toml(vault_entry=f"{REGISTRIES_GROUP}/{PRIVATE_REGISTRY}"),
                encoding="utf-8",
            )
            yield DemoWorld(
                vault=_vault_for(urls, folder),
                targets=targets,
                config=config,
                journal=(demo_journal() if keep_journal else folder / "state" / JOURNAL_NAME),
                urls=urls,
            )
    finally:
        fleet.call(registries.stop)
        fleet.stop()
