"""The registry client against the fake registry, for what distribution 2.8 cannot show:
pagination, rate limits, Docker Hub's shapes, private repositories, an unreachable registry.

The fake's shapes are checked against the reference in tests/test_fake_registry.py; here the
client must cope with them. Waiting is never real: the client's clock and sleep are ours.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import pytest

from gc_tui.core.registry import RegistryClient, RegistryOptions
from gc_tui.core.registry_config import RegistryCredentials
from gc_tui.core.registry_errors import LookupProblem, RegistryError
from gc_tui.core.secret import Secret
from gc_tui.demo.fake_registry import FakeRegistry
from tests.real_registry import free_port

CREATED = datetime(2026, 8, 15, 9, tzinfo=UTC)
NOW = 1_790_000_000.0  # the client's clock, in epoch seconds


class Sleeps:
    """Stands in for asyncio.sleep: records what the client would wait, waits for nothing."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self.now = NOW

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def client(
    registry: FakeRegistry, sleeps: Sleeps | None = None, **options: Any
) -> RegistryClient:
    sleeps = sleeps or Sleeps()
    return RegistryClient(
        mirrors={"docker.io": registry.url, "ghcr.io": registry.url},
        options=RegistryOptions(**options),
        clock=sleeps.clock,
        sleep=sleeps,
    )


@pytest.fixture
async def ghcr() -> AsyncIterator[FakeRegistry]:
    registry = FakeRegistry(page_size=100, order="pushed", service="ghcr.io")
    for minor in range(250):
        registry.store.push("windmill-labs/windmill", f"1.{minor}.0", CREATED)
    async with registry:
        yield registry


class TestPagination:
    """``Link: rel="next"`` is followed to the end, oldest-first order kept, within a cap."""

    async def test_every_page(self, ghcr: FakeRegistry) -> None:
        async with client(ghcr, page_size=100) as registry:
            listing = await registry.list_tags("ghcr.io/windmill-labs/windmill")
        assert listing.tags == tuple(f"1.{minor}.0" for minor in range(250))
        assert (listing.pages, listing.truncated) == (3, False)
        assert ghcr.count("GET", "/tags/list") == 4  # the challenged first try, then 3 pages

    async def test_a_large_page_size_saves_round_trips(self, ghcr: FakeRegistry) -> None:
        async with client(ghcr) as registry:
            listing = await registry.list_tags("ghcr.io/windmill-labs/windmill")
        assert (len(listing.tags), listing.pages) == (250, 1)

    async def test_the_page_cap_marks_the_listing_truncated(self, ghcr: FakeRegistry) -> None:
        async with client(ghcr, page_size=100, page_cap=2) as registry:
            listing = await registry.list_tags("ghcr.io/windmill-labs/windmill")
        assert (len(listing.tags), listing.pages, listing.truncated) == (200, 2, True)

    async def test_a_registry_refusing_the_page_size_gets_its_own(self, ghcr: FakeRegistry) -> None:
        ghcr.max_page_size = 100  # Quay: TOO_MANY_TAGS_REQUESTED above 100
        async with client(ghcr) as registry:
            listing = await registry.list_tags("ghcr.io/windmill-labs/windmill")
        assert (len(listing.tags), listing.pages) == (250, 3)

    async def test_tags_that_could_reshape_a_url_are_dropped(self, ghcr: FakeRegistry) -> None:
        repository = ghcr.store.repositories["windmill-labs/windmill"]
        repository.tags["../../evil"] = repository.tags["1.0.0"]
        repository.tags["a?b"] = repository.tags["1.0.0"]
        async with client(ghcr) as registry:
            listing = await registry.list_tags("ghcr.io/windmill-labs/windmill")
        assert "../../evil" not in listing.tags and "a?b" not in listing.tags
        assert len(listing.tags) == 250


@pytest.fixture
async def hub() -> AsyncIterator[FakeRegistry]:
    registry = FakeRegistry(
        token_origin="separate", service="registry.docker.io", pull_limit=100, blob_redirect=True
    )
    for tag in ("17.5", "17.6"):
        registry.store.push(
            "library/postgres",
            tag,
            CREATED,
            platforms=("linux/amd64", "linux/arm64"),
            attestation=True,
        )
    async with registry:
        yield registry


class TestDockerHubShapes:
    """Token service elsewhere, quota in headers, blobs from a CDN without our token."""

    async def test_created_through_an_index_and_a_cdn(self, hub: FakeRegistry) -> None:
        async with client(hub) as registry:
            details = await registry.details("postgres", "17.6")
            limits = registry.rate_limits()
        assert details is not None and details.created == CREATED
        assert hub.leaked_authorization == []  # the CDN never saw the registry's token
        assert hub.count("GET", "/cdn/") == 1
        assert [str(limit.describe()) for limit in limits.values()] == ["98 of 100 left per 6 h"]

    async def test_heads_do_not_spend_the_quota(self, hub: FakeRegistry) -> None:
        async with client(hub) as registry:
            for _ in range(5):
                await registry.digest("postgres", "17.6")
        assert hub.pulls == 0

    async def test_near_the_end_of_the_quota_only_heads_go_out(self, hub: FakeRegistry) -> None:
        hub.pull_limit = 12
        async with client(hub, pull_reserve=10) as registry:
            assert await registry.details("postgres", "17.6") is not None  # 2 pulls: index, amd64
            with pytest.raises(RegistryError) as caught:
                await registry.details("postgres", "17.5")
            assert await registry.digest("postgres", "17.5") is not None
        assert caught.value.problem is LookupProblem.RATE_LIMITED
        assert "pull quota nearly spent: 10 of 12 left per 6 h" in str(caught.value)
        assert hub.pulls == 2

    async def test_one_token_per_repository(self, hub: FakeRegistry) -> None:
        async with client(hub) as registry:
            await registry.list_tags("postgres")
            await registry.digest("postgres", "17.6")
            await registry.details("postgres", "17.5")
        assert [(t.service, t.scopes) for t in hub.token_requests] == [
            ("registry.docker.io", ("repository:library/postgres:pull",))
        ]
        assert hub.count("GET", "/v2/library/postgres/tags/list") == 2  # challenge, then list

    async def test_without_docker_content_digest_the_manifest_is_hashed(
        self, hub: FakeRegistry
    ) -> None:
        async with client(hub) as registry:
            with_header = await registry.digest("postgres", "17.6")
            hub.digest_header = False
            without = await registry.digest("postgres", "17.6")
        assert with_header == without and without is not None


class TestRateLimits:
    """A 429 is read, reported and honoured: a short Retry-After is waited out once, a long one
    ends the lookup, and nothing more is sent to that registry until the time has come."""

    async def test_a_short_retry_after_is_waited_out_once(self, ghcr: FakeRegistry) -> None:
        sleeps = Sleeps()
        ghcr.throttle("2", requests=1)
        async with client(ghcr, sleeps) as registry:
            listing = await registry.list_tags("ghcr.io/windmill-labs/windmill")
        assert len(listing.tags) == 250
        assert sleeps.waits == [2.0]

    @pytest.mark.parametrize(
        "retry_after",
        ["3600", format_datetime(datetime.fromtimestamp(NOW + 3600, UTC), usegmt=True)],
    )
    async def test_a_long_retry_after_stops_the_registry(
        self, ghcr: FakeRegistry, retry_after: str
    ) -> None:
        sleeps = Sleeps()
        ghcr.throttle(retry_after)
        async with client(ghcr, sleeps) as registry:
            with pytest.raises(RegistryError) as first:
                await registry.list_tags("ghcr.io/windmill-labs/windmill")
            sent = sum(ghcr.requests.values())
            with pytest.raises(RegistryError) as second:
                await registry.digest("ghcr.io/windmill-labs/windmill", "1.0.0")
            blocked = registry.blocked_until()
        assert sent == 1 and sum(ghcr.requests.values()) == 1  # never hammered
        assert sleeps.waits == []
        assert first.value.problem is second.value.problem is LookupProblem.RATE_LIMITED
        assert first.value.retry_at == NOW + 3600
        assert str(first.value) == "rate-limited (retry after 2026-09-21T15:13:20Z)"
        assert blocked == {ghcr.url: NOW + 3600}

    async def test_a_429_without_a_time_still_keeps_us_away(self, ghcr: FakeRegistry) -> None:
        ghcr.throttle("")
        async with client(ghcr) as registry:
            with pytest.raises(RegistryError):
                await registry.list_tags("ghcr.io/windmill-labs/windmill")
            assert registry.blocked_until() == {ghcr.url: NOW + 60}

    async def test_a_block_remembered_from_another_run(self, ghcr: FakeRegistry) -> None:
        async with client(ghcr) as registry:
            registry.block(ghcr.url, NOW + 600)
            with pytest.raises(RegistryError, match="rate-limited"):
                await registry.list_tags("ghcr.io/windmill-labs/windmill")
        assert sum(ghcr.requests.values()) == 0


@pytest.fixture
async def private() -> AsyncIterator[FakeRegistry]:
    registry = FakeRegistry(token_origin="separate", credentials={"robot": "hunter2-Pw"})
    registry.store.push("cmi/superset-docker", "4.1.2_20250519-1315", CREATED)
    registry.store.make_private("cmi/superset-docker")
    async with registry:
        yield registry


class TestPrivateRepositories:
    """Credentials from the vault go to the token service only, and never into a message."""

    def client_with(self, registry: FakeRegistry, password: str) -> RegistryClient:
        credentials = {"registry.example.org": RegistryCredentials("robot", Secret(password))}
        return RegistryClient(
            mirrors={"registry.example.org": registry.url}, credentials=credentials
        )

    async def test_with_credentials(self, private: FakeRegistry) -> None:
        async with self.client_with(private, "hunter2-Pw") as registry:
            listing = await registry.list_tags("registry.example.org/cmi/superset-docker")
        assert listing.tags == ("4.1.2_20250519-1315",)
        assert private.basic_auth_paths == ["/token"]

    async def test_without_credentials(self, private: FakeRegistry) -> None:
        async with RegistryClient(mirrors={"registry.example.org": private.url}) as registry:
            with pytest.raises(RegistryError) as caught:
                await registry.list_tags("registry.example.org/cmi/superset-docker")
        assert caught.value.problem is LookupProblem.DENIED

    async def test_wrong_credentials(self, private: FakeRegistry) -> None:
        async with self.client_with(private, "wrong-Pw") as registry:
            with pytest.raises(RegistryError) as caught:
                await registry.list_tags("registry.example.org/cmi/superset-docker")
        assert str(caught.value) == "access denied (the token service refused the credentials)"
        assert "wrong-Pw" not in repr(caught.value)

    async def test_no_credentials_to_a_realm_in_clear_text(self, private: FakeRegistry) -> None:
        class Elsewhere(FakeRegistry):
            @property
            def realm(self) -> str:
                return "http://auth.example.org/token"

        registry = Elsewhere(token_origin="separate", credentials={"robot": "hunter2-Pw"})
        registry.store.push("cmi/app", "1.0.0", CREATED)
        async with registry, self.client_with(registry, "hunter2-Pw") as client_:
            with pytest.raises(RegistryError, match="not on HTTPS"):
                await client_.list_tags("registry.example.org/cmi/app")
        assert registry.basic_auth_paths == []


class TestUnreachable:
    """Offline: one failed connection per registry, then every lookup there fails at once."""

    async def test_refused(self) -> None:
        closed = f"http://127.0.0.1:{free_port()}"
        async with RegistryClient(mirrors={"docker.io": closed}) as registry:
            with pytest.raises(RegistryError) as first:
                await registry.list_tags("postgres")
            with pytest.raises(RegistryError) as second:
                await registry.list_tags("redis")
        assert str(first.value) == "registry unreachable (connection refused)"
        assert str(second.value) == str(first.value)
        assert registry.requests_sent == 0
