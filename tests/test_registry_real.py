"""The registry client and the upstream states against a real registry: Debian's distribution
2.8 behind a token realm (tests/real_registry.py), images pushed through its own API.

Covered here: tags/list, HEAD digests with the four Accept types, the token dance, a tag
re-pushed after a deploy, an unknown repository, ``created`` from the config blob (also through
an OCI index), and the whole path from lookups to a ``--to-newest`` plan.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from gc_tui.core.model import AppInfo, Instance, InstanceAudit, InstanceStatus
from gc_tui.core.plan import PlanOptions, build_plan
from gc_tui.core.registry import RegistryClient
from gc_tui.core.registry_answers import ACCEPT_MANIFESTS
from gc_tui.core.registry_errors import LookupProblem, RegistryError
from gc_tui.core.upstream import UpstreamState, app_upstream
from gc_tui.core.upstream_cache import UpstreamCache
from gc_tui.core.upstream_lookup import UpstreamLookups, look_up
from gc_tui.core.upstream_plan import to_newest_selection, upstream_of_app, wanted_repositories
from tests.real_registry import SERVICE, RealRegistry, real_registry

DEPLOYED = "2026-08-20T14:30:00.000Z"  # CapRover's timeStamp of the running version


def at(day: int, hour: int = 9) -> datetime:
    return datetime(2026, 8, day, hour, tzinfo=UTC)


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealRegistry]:
    with real_registry(tmp_path_factory.mktemp("registry")) as running:
        running.push("communityfirst/guardianconnector-explorer", "20260731-948", at(1))
        running.push("communityfirst/guardianconnector-explorer", "20260815-999", at(15))
        running.push("communityfirst/guardianconnector-explorer", "20260815-1002", at(15, 18))
        running.push("communityfirst/guardianconnector-explorer", "latest", at(15, 18))
        running.push("communityfirst/gc-comapeo-cloud", "0.4.0", at(3))
        running.push("communityfirst/gc-comapeo-cloud", "0.5.0-rc.1", at(4))
        multi = ("linux/amd64", "linux/arm64")
        running.push("library/postgres", "17.5", at(2), platforms=multi)
        running.push("library/postgres", "17.6", at(12), platforms=multi)
        running.push("library/postgres", "17", at(12), platforms=multi)
        yield running


def client_for(registry: RealRegistry) -> RegistryClient:
    return RegistryClient(mirrors={"docker.io": registry.url})


class TestTheRegistryApi:
    """What the client reads from distribution is what was pushed."""

    async def test_tags_list(self, registry: RealRegistry) -> None:
        async with client_for(registry) as client:
            listing = await client.list_tags("communityfirst/guardianconnector-explorer")
        assert sorted(listing.tags) == ["20260731-948", "20260815-1002", "20260815-999", "latest"]
        assert (listing.pages, listing.truncated) == (1, False)

    async def test_head_gives_the_pushed_digest_of_an_index_too(
        self, registry: RealRegistry
    ) -> None:
        multi = ("linux/amd64", "linux/arm64")
        pushed = registry.push("library/redis", "7.2.4", at(20), platforms=multi)
        async with client_for(registry) as client:
            assert await client.digest("redis", "7.2.4") == pushed
            assert await client.digest("redis", "no-such-tag") is None

    async def test_created_comes_from_the_config_through_the_index(
        self, registry: RealRegistry
    ) -> None:
        async with client_for(registry) as client:
            details = await client.details("docker.io/library/postgres", "17.6")
        assert details is not None and details.created == at(12)

    async def test_an_unknown_repository(self, registry: RealRegistry) -> None:
        async with client_for(registry) as client:
            with pytest.raises(RegistryError) as caught:
                await client.list_tags("communityfirst/no-such-image")
        assert caught.value.problem is LookupProblem.NOT_FOUND

    def test_an_index_needs_its_type_in_accept(self, registry: RealRegistry) -> None:
        """The reference's [exp] fact, which is why all four types are sent."""
        url = f"{registry.url}/v2/library/postgres/manifests/17.6"
        auth = {"Authorization": "Bearer any"}
        only_v2 = {**auth, "Accept": "application/vnd.docker.distribution.manifest.v2+json"}
        assert httpx.head(url, headers=auth).status_code == 404
        assert httpx.head(url, headers=only_v2).status_code == 404
        assert httpx.head(url, headers={**auth, "Accept": ACCEPT_MANIFESTS}).status_code == 200


class TestTheTokenDance:
    """Challenge, then a token from the realm for exactly the challenged scope, then the call."""

    async def test_one_token_per_repository_for_its_pull_scope(
        self, registry: RealRegistry
    ) -> None:
        registry.realm.asked.clear()
        async with client_for(registry) as client:
            await client.list_tags("postgres")
            await client.digest("postgres", "17.6")
            await client.details("postgres", "17.6")
            await client.list_tags("communityfirst/gc-comapeo-cloud")
        assert registry.realm.asked == [
            (SERVICE, ("repository:library/postgres:pull",), False),
            (SERVICE, ("repository:communityfirst/gc-comapeo-cloud:pull",), False),
        ]


def audit_of(*apps: tuple[str, str]) -> InstanceAudit:
    return InstanceAudit(
        Instance("alpha", "https://captain.alpha.example.org"),
        InstanceStatus.OK,
        apps=tuple(AppInfo(name, 3, image, DEPLOYED) for name, image in apps),
    )


class TestRepushedAndStates:
    """A tag re-pushed after the deploy is ``repushed``; everything else as the tags say."""

    async def test_a_tag_pushed_again_after_the_deploy(self, registry: RealRegistry) -> None:
        name = "communityfirst/comapeo-weekly"
        first = registry.push(name, "0.4.0", at(17))
        async with client_for(registry) as client:
            before = await UpstreamLookups(client).lookup(name, ["0.4.0"])
        assert app_upstream(f"{name}:0.4.0", DEPLOYED, before).state is UpstreamState.CURRENT

        second = registry.push(name, "0.4.0", at(24))  # Monday's rebuild, same tag
        assert second != first
        async with client_for(registry) as client:
            after = await UpstreamLookups(client).lookup(name, ["0.4.0"])
            assert await client.digest(name, "0.4.0") == second
        upstream = app_upstream(f"{name}:0.4.0", DEPLOYED, after)
        assert upstream.state is UpstreamState.REPUSHED
        assert upstream.newest_details.digest == second
        assert upstream.newest_details.created == at(24)

    async def test_a_fleet_to_newest(self, registry: RealRegistry) -> None:
        audit = audit_of(
            ("explorer", "communityfirst/guardianconnector-explorer:20260731-948"),
            ("explorer-b", "communityfirst/guardianconnector-explorer:latest"),
            ("comapeo", "communityfirst/gc-comapeo-cloud:0.4.0"),
            ("db", "postgres:17.5"),
            ("missing", "communityfirst/not-pushed:1.0.0"),
        )
        lookups = await look_up(
            wanted_repositories([audit]),
            mirrors={"docker.io": registry.url},
            cache=UpstreamCache(),
        )
        states = {app.name: upstream_of_app(app, lookups) for app in audit.apps}
        assert {name: (u.state, u.newest) for name, u in states.items()} == {
            "explorer": (UpstreamState.BEHIND, "20260815-1002"),
            "explorer-b": (UpstreamState.FLOATING, "20260815-1002"),
            "comapeo": (UpstreamState.CURRENT, "0.4.0"),  # 0.5.0-rc.1 never counts
            "db": (UpstreamState.BEHIND, "17.6"),
            "missing": (UpstreamState.UNKNOWN, None),
        }
        assert str(states["missing"].error) == "repository not found"

        selection = to_newest_selection([audit], lookups)
        plan = build_plan([audit], selection.targets, PlanOptions(hold_repositories=("postgres",)))
        assert [(row.app, row.to_image) for row in plan.rows] == [
            ("explorer", "communityfirst/guardianconnector-explorer:20260815-1002")
        ]
        assert [(row.app, row.reason) for row in plan.skipped] == [
            ("db", "held image (never batch-upgraded); --include-held to deploy anyway")
        ]
