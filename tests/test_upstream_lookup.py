"""A run's lookups: each repository once, all at once, from the cache when it is fresh; and the
cache file itself (where it lives, what it holds, what it never holds).

The registries are the demo's fakes (Docker Hub-, GHCR- and private-registry-shaped), whose
request counters say what each run cost. Time is injected; nothing waits on a clock.
"""

from __future__ import annotations

import asyncio
import gc
import json
import stat
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gc_tui.core.registry import RegistryClient
from gc_tui.core.registry_config import RegistryCredentials
from gc_tui.core.secret import Secret
from gc_tui.core.upstream import (
    RepositoryLookup,
    UpstreamState,
    app_upstream,
    running_tags_by_repository,
)
from gc_tui.core.upstream_cache import UpstreamCache, default_cache_path
from gc_tui.core.upstream_lookup import LookupSettings, UpstreamLookups
from gc_tui.demo.catalog import demo_fleet_data
from gc_tui.demo.fake_registry import FakeRegistry
from gc_tui.demo.registry_catalog import (
    DEMO_REGISTRY_PASSWORD,
    DEMO_REGISTRY_USER,
    DemoRegistries,
)
from tests.real_registry import free_port

NOW = datetime(2026, 8, 25, 8, tzinfo=UTC)
DEPLOYED = "2026-08-20T14:30:00.000Z"
COMAPEO = "docker.io/communityfirst/gc-comapeo-cloud"
EXPLORER = "docker.io/communityfirst/guardianconnector-explorer"


def fleet_wanted() -> dict[str, list[str]]:
    data = demo_fleet_data()
    return running_tags_by_repository(
        str(app["image"]) for instance in data["instances"] for app in instance["apps"]
    )


@pytest.fixture
async def registries() -> AsyncIterator[DemoRegistries]:
    async with DemoRegistries() as running:
        yield running


def client_for(registries: DemoRegistries) -> RegistryClient:
    credentials = {
        "registry.example.org": RegistryCredentials(
            DEMO_REGISTRY_USER, Secret(DEMO_REGISTRY_PASSWORD)
        )
    }
    return RegistryClient(mirrors=registries.mirrors(), credentials=credentials)


def sent(registries: DemoRegistries) -> int:
    return sum(sum(r.requests.values()) for r in registries.registries.values())


async def run(
    registries: DemoRegistries,
    cache: UpstreamCache | None,
    *,
    now: datetime = NOW,
    refresh: bool = False,
) -> dict[str, RepositoryLookup]:
    async with client_for(registries) as client:
        lookups = UpstreamLookups(
            client, cache=cache, settings=LookupSettings(refresh=refresh), now=lambda: now
        )
        return await lookups.lookup_all(fleet_wanted())


class TestTheCache:
    """Warm costs nothing; stale costs HEADs, not pulls; --refresh asks again."""

    async def test_a_warm_cache_costs_no_request(self, registries: DemoRegistries) -> None:
        cache = UpstreamCache()
        cold = await run(registries, cache)
        spent = sent(registries)
        warm = await run(registries, cache, now=NOW + timedelta(minutes=59))
        assert sent(registries) == spent
        assert {name: (found.tags, dict(found.details)) for name, found in warm.items()} == {
            name: (found.tags, dict(found.details)) for name, found in cold.items()
        }
        assert all(lookup.from_cache for lookup in warm.values())

    async def test_without_details_no_pull_is_spent(self, registries: DemoRegistries) -> None:
        async with client_for(registries) as client:
            lookups = UpstreamLookups(client, settings=LookupSettings(details=False))
            found = await lookups.lookup_all(fleet_wanted(), save=False)
        hub = registries.registries["docker.io"]
        assert hub.pulls == 0 and hub.count("GET", "/manifests/") == 0
        assert found[EXPLORER].details["20260815-1002"].digest is not None
        assert found[EXPLORER].details["20260815-1002"].created is None
        assert "20260731-948" not in found[EXPLORER].details  # no HEAD for a running tag

    async def test_refresh_bypasses_it(self, registries: DemoRegistries) -> None:
        cache = UpstreamCache()
        await run(registries, cache)
        spent = sent(registries)
        await run(registries, cache, refresh=True)
        assert sent(registries) > spent

    async def test_after_the_ttl_known_images_cost_a_head_not_a_pull(
        self, registries: DemoRegistries
    ) -> None:
        cache = UpstreamCache()
        await run(registries, cache)
        hub = registries.registries["docker.io"]
        pulls = hub.pulls
        later = await run(registries, cache, now=NOW + timedelta(hours=2))
        assert hub.pulls == pulls  # every newest image's created time was already known
        comapeo = later[COMAPEO]
        assert comapeo.from_cache is False
        state = app_upstream(f"{COMAPEO}:0.4.0", DEPLOYED, comapeo)
        assert state.state is UpstreamState.REPUSHED

    def test_where_it_lives(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
        assert default_cache_path() == tmp_path / "xdg" / "gc-tui" / "upstream.json"
        monkeypatch.delenv("XDG_CACHE_HOME")
        monkeypatch.setenv("HOME", str(tmp_path / "home"))
        assert default_cache_path() == tmp_path / "home" / ".cache" / "gc-tui" / "upstream.json"

    async def test_the_file_is_private_and_holds_no_secret(
        self, registries: DemoRegistries
    ) -> None:
        cache = UpstreamCache()
        await run(registries, cache)
        mode = stat.S_IMODE(cache.path.stat().st_mode)
        assert mode == 0o600
        assert stat.S_IMODE(cache.path.parent.stat().st_mode) == 0o700
        text = cache.path.read_text()
        assert DEMO_REGISTRY_PASSWORD not in text and DEMO_REGISTRY_USER not in text
        assert "token" not in text.lower() and "bearer" not in text.lower()
        document = json.loads(text)
        assert sorted(document) == ["blocked", "created", "repositories", "version"]
        assert document["repositories"][EXPLORER]["details"]["20260815-1002"]["created"] == (
            "2026-08-15T09:42:00Z"
        )

    @pytest.mark.parametrize("content", [b"", b"{", b"[]", b'{"version": 99}', b"\xff\xfe"])
    async def test_a_damaged_file_is_an_empty_cache(
        self, registries: DemoRegistries, content: bytes
    ) -> None:
        cache = UpstreamCache()
        cache.path.parent.mkdir(parents=True, exist_ok=True)
        cache.path.write_bytes(content)
        found = await run(registries, cache)
        assert not any(lookup.from_cache for lookup in found.values())
        assert json.loads(cache.path.read_text())["version"] == 1

    async def test_a_rate_limit_outlives_the_run(self, registries: DemoRegistries) -> None:
        cache = UpstreamCache()
        ghcr = registries.registries["ghcr.io"]
        ghcr.throttle("3600")
        first = await run(registries, cache)
        assert str(first["ghcr.io/windmill-labs/windmill"].error).startswith(
            "rate-limited (retry after "
        )
        ghcr.clear_throttle()
        asked = sum(ghcr.requests.values())
        await run(registries, cache, now=NOW + timedelta(minutes=5))
        assert sum(ghcr.requests.values()) == asked  # the next run left GHCR alone


class TestOncePerRun:
    """Each repository once, however many apps (or callers) ask; all at once, bounded."""

    async def test_two_callers_one_listing(self, registries: DemoRegistries) -> None:
        hub = registries.registries["docker.io"]
        async with client_for(registries) as client:
            lookups = UpstreamLookups(client, now=lambda: NOW)
            first, second = await asyncio.gather(
                lookups.lookup(EXPLORER, ["20260731-948"]),
                lookups.lookup("communityfirst/guardianconnector-explorer:latest", ["latest"]),
            )
        assert hub.count("GET", "/guardianconnector-explorer/tags/list") == 2  # challenge + list
        assert first.tags == second.tags
        assert "20260731-948" in lookups.results()[EXPLORER].details

    async def test_concurrency_is_bounded(self) -> None:
        registry = FakeRegistry(latency=0.01)
        for index in range(12):
            registry.store.push(f"team/app{index}", "1.0.0", NOW)
        async with registry, RegistryClient(mirrors={"docker.io": registry.url}) as client:
            lookups = UpstreamLookups(
                client, settings=LookupSettings(concurrency=3), now=lambda: NOW
            )
            found = await lookups.lookup_all(
                {f"team/app{i}": ["1.0.0"] for i in range(12)}, save=False
            )
        assert all(lookup.error is None for lookup in found.values())
        assert registry.count("GET", "/tags/list") == 24
        assert 1 < registry.most_at_once <= 3 * 2  # a listing is a challenge then the list

    async def test_offline_every_repository_says_so(self) -> None:
        closed = f"http://127.0.0.1:{free_port()}"
        hosts = ("docker.io", "ghcr.io", "registry.example.org")
        async with RegistryClient(mirrors=dict.fromkeys(hosts, closed)) as client:
            found = await UpstreamLookups(client, cache=UpstreamCache()).lookup_all(fleet_wanted())
        assert {str(each.error) for each in found.values()} == {
            "registry unreachable (connection refused)"
        }
        assert client.requests_sent == 0

    async def test_stale_values_are_kept_beside_the_error(self, registries: DemoRegistries) -> None:
        cache = UpstreamCache()
        await run(registries, cache)
        closed = f"http://127.0.0.1:{free_port()}"
        async with RegistryClient(mirrors={"docker.io": closed}) as client:
            lookups = UpstreamLookups(client, cache=cache, now=lambda: NOW + timedelta(hours=3))
            assert lookups.cached()[EXPLORER].tags  # shown at once, before any answer
            found = await lookups.lookup(EXPLORER, ["20260731-948"])
        assert str(found.error) == "registry unreachable (connection refused)"
        assert found.from_cache and "20260815-1002" in found.tags
        state = app_upstream(f"{EXPLORER}:20260731-948", DEPLOYED, found)
        assert state.label == "unknown (registry unreachable)"


class TestQuietEndings:
    """Whatever is cut short, nothing from asyncio or httpx reaches stderr (or its logger)."""

    async def test_interrupted_lookups(
        self, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
    ) -> None:
        registry = FakeRegistry(latency=0.2, token_origin="separate")
        for index in range(6):
            registry.store.push(f"team/app{index}", "1.0.0", NOW)
        async with registry:
            async with RegistryClient(mirrors={"docker.io": registry.url}) as client:
                lookups = UpstreamLookups(client, now=lambda: NOW)
                running = asyncio.ensure_future(
                    lookups.lookup_all({f"team/app{i}": ["1.0.0"] for i in range(6)}, save=False)
                )
                while not registry.count("GET", "/token"):  # cut short inside the token dance
                    await asyncio.sleep(0.01)
                running.cancel()
                await asyncio.gather(running, return_exceptions=True)
                await lookups.aclose()
        del running, lookups
        gc.collect()
        await asyncio.sleep(0)
        assert capfd.readouterr().err == ""
        # asyncio reports through logging, which pytest captures before it reaches stderr.
        assert [r.getMessage() for r in caplog.records if r.name == "asyncio"] == []

    async def test_a_token_refused_after_everyone_stopped_waiting(
        self, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
    ) -> None:
        registry = FakeRegistry(latency=0.2, token_origin="separate", credentials={"robot": "pw"})
        registry.store.push("cmi/app", "1.0.0", NOW)
        credentials = {"docker.io": RegistryCredentials("robot", Secret("wrong"))}
        async with registry:
            client = RegistryClient(mirrors={"docker.io": registry.url}, credentials=credentials)
            asking = asyncio.ensure_future(client.list_tags("cmi/app"))
            while not registry.count("GET", "/token"):  # the token request is in flight
                await asyncio.sleep(0.01)
            asking.cancel()  # nobody waits for the token any more; the service then says 401
            await asyncio.gather(asking, return_exceptions=True)
            while not _settled(client):
                await asyncio.sleep(0.01)
            await client.aclose()
        del asking  # its traceback holds the frames that hold the token request
        gc.collect()
        await asyncio.sleep(0)
        assert capfd.readouterr().err == ""
        # asyncio reports through logging, which pytest captures before it reaches stderr.
        assert [r.getMessage() for r in caplog.records if r.name == "asyncio"] == []


def _settled(client: RegistryClient) -> bool:
    return client.pending_token_requests == 0
