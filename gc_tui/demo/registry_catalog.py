"""The demo's registries: every repository the demo fleet runs, with what is new upstream.

Three fake registries stand in for the three the fleet pulls from, each shaped like the real
one (docs/registries.md): Docker Hub (token service and blob CDN on another origin, a pull
quota announced in ``ratelimit-*`` headers, all tags in one answer), GHCR (100 tags a page,
oldest first) and CMI's private registry (credentials needed at the token service).

The catalogue holds the tags the demo instances run (gc_tui/demo/data/demo_fleet.json) plus
newer ones, so the demo shows every state:

- ``behind``: Explorer (``20260815-1002`` after ``-999``), Superset, Windmill, Windmill LSP,
  Filebrowser ``-s6``, CoMapeo 0.3.0, Redis (within the demo's ``^7\\.2\\.`` rule);
- ``repushed``: gc-comapeo-cloud ``0.4.0``, rebuilt on Monday 2026-08-24, after the demo's
  deploys of 2026-08-20;
- ``current``: the landing page;
- ``floating``: ``postgres:17``, ``filebrowser:v2``, ``explorer:latest``;
- traps that must never count: ``-rc.1``/``-beta`` pre-releases, ``latest``/``main``, PR
  builds, a bare ``v2`` beside ``v2.64.1``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from gc_tui.demo.fake_registry import FakeRegistry
from gc_tui.demo.registry_store import RegistryStore

DEMO_REGISTRY_USER = "demo-robot"
DEMO_REGISTRY_PASSWORD = "demo-registry-Pw7x"  # made up, like every demo password
# The [upstream] table the demo's targets file should carry: Redis stays on 7.2.
DEMO_UPSTREAM_RULES: dict[str, dict[str, str]] = {"redis": {"include": r"^7\.2\."}}

_MULTI = ("linux/amd64", "linux/arm64")
_UNKNOWN_DATE = datetime(2026, 1, 1, tzinfo=UTC)


def _dated(tag: str) -> datetime:
    """The build time a date-run (``20260731-948``) or timestamp (``…_20260803-1652``) names."""
    stamp = tag.rsplit("_", 1)[-1]
    day, _, rest = stamp.partition("-")
    try:
        moment = datetime.strptime(day, "%Y%m%d").replace(tzinfo=UTC)
    except ValueError:
        return _UNKNOWN_DATE
    if "_" in tag and len(rest) == 4 and rest.isdigit():
        return moment + timedelta(hours=int(rest[:2]), minutes=int(rest[2:]))
    return moment + timedelta(hours=9, minutes=int(rest) % 60 if rest.isdigit() else 0)


def _spread(tags: list[str], first: datetime, last: datetime) -> list[tuple[str, datetime]]:
    """Tags in push order, built at even steps from ``first`` to ``last``."""
    step = (last - first) / max(len(tags) - 1, 1)
    return [(tag, first + step * index) for index, tag in enumerate(tags)]


def _push(
    store: RegistryStore, name: str, tags: Iterable[tuple[str, datetime]], multi: bool = False
) -> None:
    for tag, created in tags:
        store.push(
            name, tag, created, platforms=_MULTI if multi else ("linux/amd64",), attestation=multi
        )


def _numbers(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def _windmill_versions() -> list[str]:
    """A release every few minors since mid-2025, and the ones the demo fleet runs."""
    versions = {f"1.{minor}.{patch}" for minor in range(430, 781, 3) for patch in (0, 2)}
    versions |= {"1.435.2", "1.648.0", "1.715.0", "1.756.0", "1.775.2", "1.780.1"}
    return sorted(versions, key=_numbers)


def docker_hub_store() -> RegistryStore:
    store = RegistryStore()
    may, aug = datetime(2025, 5, 1, tzinfo=UTC), datetime(2026, 8, 14, tzinfo=UTC)
    postgres = ["16.9", "16.10", "17.5", "17.6", "17.6-alpine", "18.0", "18rc1", "19-beta1"]
    _push(store, "library/postgres", _spread(postgres, may, aug), multi=True)
    floating = ["16", "17", "17-alpine", "18", "latest"]
    _push(store, "library/postgres", [(tag, aug) for tag in floating], multi=True)
    redis = ["7.2.4", "7.2.5", "7.2.9", "7.2.10", "7.4.5", "8.0.3", "8.4.0-rc1"]
    _push(store, "library/redis", _spread(redis, may, aug), multi=True)
    _push(store, "library/redis", [("7.2", aug), ("7", aug), ("latest", aug)], multi=True)
    filebrowser = [
        "v2.30.0",
        "v2.36.1",
        "v2.36.1-s6",
        "v2.63.23",
        "v2.63.23-s6",
        "v2.64.1",
        "v2.64.1-s6",
        "v2.65.0-beta.1",
    ]
    _push(store, "filebrowser/filebrowser", _spread(filebrowser, may, aug), multi=True)
    _push(store, "filebrowser/filebrowser", [("v2", aug), ("v2.64", aug), ("latest", aug)], True)
    superset = [
        "4.1.4_20251002-0232",
        "6.0.0_20260303-0213",
        "6.1.0_20260713-2211",
        "6.1.0_20260729-2019",
        "6.1.0_20260803-1652",
        "pr-212-6.1.0_20260815-1130",
        "6.1.0_20260818-0907",
    ]
    _push(store, "communityfirst/superset-deployment", [(t, _dated(t)) for t in superset])
    _push(store, "communityfirst/superset-deployment", [("latest", _dated(superset[-1]))])
    landing = ["20260216-83", "20260407-116", "20260602-141", "20260727-163", "20260728-165"]
    _push(store, "communityfirst/guardianconnector-landing-page", [(t, _dated(t)) for t in landing])
    _push(
        store,
        "communityfirst/guardianconnector-landing-page",
        [("latest", _dated(landing[-1])), ("main", _dated(landing[-1]))],
    )
    explorer = [
        "20260216-603",
        "20260402-741",
        "20260603-823",
        "20260716-878",
        "20260727-932",
        "20260731-948",
        "20260812-987",
        "20260815-999",
        "20260815-1002",
    ]
    _push(store, "communityfirst/guardianconnector-explorer", [(t, _dated(t)) for t in explorer])
    _push(
        store,
        "communityfirst/guardianconnector-explorer",
        [
            ("latest", _dated(explorer[-1])),
            ("main", _dated(explorer[-1])),
            ("ci-test", _dated(explorer[-1])),
            ("pr-301", _dated("20260814-1")),
        ],
    )
    comapeo = [
        ("0.3.0", datetime(2025, 10, 6, 9, 4, tzinfo=UTC)),
        ("0.4.0", datetime(2025, 11, 17, 9, 5, tzinfo=UTC)),
        ("0.5.0-rc.1", datetime(2026, 8, 12, 15, 0, tzinfo=UTC)),
    ]
    _push(store, "communityfirst/gc-comapeo-cloud", comapeo)
    # The weekly rebuild: same tag, new image, after the demo fleet's deploys of 2026-08-20.
    rebuilt = datetime(2026, 8, 24, 9, 7, 31, tzinfo=UTC)
    _push(store, "communityfirst/gc-comapeo-cloud", [("0.4.0", rebuilt), ("latest", rebuilt)])
    _push(store, "communityfirst/comapeo-cloud", [("0.2.1", datetime(2025, 7, 2, tzinfo=UTC))])
    return store


def ghcr_store() -> RegistryStore:
    store = RegistryStore()
    first, last = datetime(2025, 6, 2, tzinfo=UTC), datetime(2026, 8, 18, tzinfo=UTC)
    windmill = _windmill_versions()
    _push(store, "windmill-labs/windmill", _spread(windmill, first, last), multi=True)
    _push(
        store,
        "windmill-labs/windmill",
        [("1.781.0-rc.1", last), ("main", last), ("latest", last)],
        multi=True,
    )
    lsp = sorted({v for v in windmill if _numbers(v) >= (1, 500)} | {"1.518.2"}, key=_numbers)
    _push(store, "windmill-labs/windmill-lsp", _spread(lsp, first, last))
    _push(store, "windmill-labs/windmill-lsp", [("latest", last)])
    return store


def private_store() -> RegistryStore:
    store = RegistryStore()
    _push(
        store,
        "cmi/superset-docker",
        [
            ("4.1.2_20250519-1315", _dated("4.1.2_20250519-1315")),
            ("4.1.4_20251002-0232", _dated("4.1.4_20251002-0232")),
        ],
    )
    june = datetime(2026, 6, 1, tzinfo=UTC)
    _push(store, "cmi/gc-http-server", [("20260415-7", _dated("20260415-7")), ("latest", june)])
    _push(store, "cmi/gc-http-server", [("20260601-12", june)])
    _push(store, "cmi/gc-wildlife-viewer", _spread(["1.2.0", "1.3.1", "latest"], june, june))
    for name in store.repositories:
        store.make_private(name)
    return store


class DemoRegistries:
    """The three demo registries on loopback; ``mirrors()`` is the config's host -> URL map."""

    def __init__(self, *, latency: float = 0.0, host: str = "127.0.0.1") -> None:
        self.registries: dict[str, FakeRegistry] = {
            "docker.io": FakeRegistry(
                docker_hub_store(),
                service="registry.docker.io",
                token_origin="separate",
                pull_limit=100,
                blob_redirect=True,
                latency=latency,
                host=host,
            ),
            "ghcr.io": FakeRegistry(
                ghcr_store(),
                service="ghcr.io",
                page_size=100,
                order="pushed",
                latency=latency,
                host=host,
            ),
            "registry.example.org": FakeRegistry(
                private_store(),
                service="registry.example.org",
                credentials={DEMO_REGISTRY_USER: DEMO_REGISTRY_PASSWORD},
                latency=latency,
                host=host,
            ),
        }

    async def start(self) -> DemoRegistries:
        for registry in self.registries.values():
            await registry.start()
        return self

    async def stop(self) -> None:
        await asyncio.gather(*(registry.stop() for registry in self.registries.values()))

    async def __aenter__(self) -> DemoRegistries:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def mirrors(self) -> dict[str, str]:
        """Registry host -> the fake's URL: what ``[registries."HOST"] url`` says."""
        return {host: registry.url for host, registry in self.registries.items()}

    def config_toml(self, vault_entry: str | None = None) -> str:
        """The ``[registries]`` tables of the demo's config file.

        ``vault_entry`` names the demo vault's entry for the private registry, if it has one.
        """
        lines = []
        for host, url in self.mirrors().items():
            lines += [f'[registries."{host}"]', f'url = "{url}"']
            if host == "registry.example.org" and vault_entry:
                lines.append(f'vault_entry = "{vault_entry}"')
            lines.append("")
        return "\n".join(lines)
