"""The fake registry is checked against facts, never against our client.

Where distribution 2.8 can answer, the fake and the real registry get the same raw requests
(through httpx, not gc-tui's client) and must answer alike. What distribution 2.8 lacks
(pagination, Docker Hub's quota headers, 429) is checked against the statements in
docs/registries.md, each quoted in the test that relies on it.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime

import httpx
import pytest

from gc_tui.demo.fake_registry import FakeRegistry
from tests.real_registry import RealRegistry, real_registry

ACCEPT_ALL = (
    "application/vnd.oci.image.index.v1+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json, "
    "application/vnd.oci.image.manifest.v1+json, "
    "application/vnd.docker.distribution.manifest.v2+json"
)
MULTI = ("linux/amd64", "linux/arm64")
CREATED = datetime(2026, 8, 15, 9, tzinfo=UTC)


def pushed_everywhere(push: Callable[..., object]) -> None:
    for tag in ("17.6", "17.5", "17"):
        push("library/postgres", tag, CREATED, platforms=MULTI)
    push("communityfirst/explorer", "20260815-1002", CREATED)


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealRegistry]:
    with real_registry(tmp_path_factory.mktemp("registry")) as running:
        pushed_everywhere(running.push)
        yield running


@pytest.fixture
async def fake() -> AsyncIterator[FakeRegistry]:
    registry = FakeRegistry(service="test-registry")
    pushed_everywhere(registry.store.push)
    async with registry:
        yield registry


@pytest.fixture(params=["real", "fake"])
def origin(request: pytest.FixtureRequest) -> str:
    if request.param == "real":
        return str(request.getfixturevalue("real").url)
    return str(request.getfixturevalue("fake").url)


async def token_for(client: httpx.AsyncClient, challenge: str) -> str:
    """Follow a challenge as the token spec says (realm, service, scope), with no client of ours."""
    params = dict(
        part.split("=", 1) for part in challenge.removeprefix("Bearer ").replace('"', "").split(",")
    )
    answer = await client.get(
        params["realm"], params={"service": params["service"], "scope": params["scope"]}
    )
    assert answer.status_code == 200
    document = answer.json()
    return str(document.get("token") or document["access_token"])


class TestAgreesWithDistribution:
    """The same raw requests get the same kind of answer from the fake and from distribution."""

    async def test_an_anonymous_request_is_challenged_for_its_scope(self, origin: str) -> None:
        async with httpx.AsyncClient() as client:
            answer = await client.get(f"{origin}/v2/library/postgres/tags/list")
        assert answer.status_code == 401
        challenge = answer.headers["www-authenticate"]
        assert challenge.startswith('Bearer realm="http://127.0.0.1:')
        assert challenge.endswith(
            ',service="test-registry",scope="repository:library/postgres:pull"'
        )
        assert answer.json()["errors"][0]["code"] == "UNAUTHORIZED"

    async def test_tags_list_is_lexical(self, origin: str) -> None:
        async with httpx.AsyncClient() as client:
            challenge = (await client.get(f"{origin}/v2/library/postgres/tags/list")).headers
            token = await token_for(client, challenge["www-authenticate"])
            answer = await client.get(
                f"{origin}/v2/library/postgres/tags/list",
                headers={"Authorization": f"Bearer {token}"},
            )
        assert answer.json() == {"name": "library/postgres", "tags": ["17", "17.5", "17.6"]}

    async def test_an_index_answers_only_when_accept_names_it(self, origin: str) -> None:
        url = f"{origin}/v2/library/postgres/manifests/17.6"
        async with httpx.AsyncClient() as client:
            token = await token_for(client, (await client.head(url)).headers["www-authenticate"])
            auth = {"Authorization": f"Bearer {token}"}
            bare = await client.head(url, headers=auth)
            only_v2 = await client.head(
                url,
                headers={**auth, "Accept": "application/vnd.docker.distribution.manifest.v2+json"},
            )
            head = await client.head(url, headers={**auth, "Accept": ACCEPT_ALL})
            get = await client.get(url, headers={**auth, "Accept": ACCEPT_ALL})
        assert (bare.status_code, only_v2.status_code, head.status_code) == (404, 404, 200)
        assert head.headers["content-type"] == "application/vnd.oci.image.index.v1+json"
        digest = "sha256:" + hashlib.sha256(get.content).hexdigest()
        assert (
            head.headers["docker-content-digest"] == get.headers["docker-content-digest"] == digest
        )
        assert int(head.headers["content-length"]) == len(get.content)

    async def test_an_unknown_repository_is_name_unknown(self, origin: str) -> None:
        url = f"{origin}/v2/communityfirst/nothing/tags/list"
        async with httpx.AsyncClient() as client:
            token = await token_for(client, (await client.get(url)).headers["www-authenticate"])
            answer = await client.get(url, headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 404
        assert answer.json()["errors"][0]["code"] == "NAME_UNKNOWN"


async def authorized(
    registry: FakeRegistry, client: httpx.AsyncClient, path: str
) -> dict[str, str]:
    challenge = (await client.get(f"{registry.url}{path}")).headers["www-authenticate"]
    return {"Authorization": f"Bearer {await token_for(client, challenge)}"}


class TestWhatDistributionLacks:
    """Shapes distribution 2.8 cannot show, each as docs/registries.md states it."""

    async def test_ghcr_pages(self) -> None:
        """ "With no n it returned 100 tags plus Link: rel="next". With n=10000 it returned all
        169 and no Link"; GHCR "sorts from oldest to newest"."""
        registry = FakeRegistry(page_size=100, order="pushed")
        versions = [f"1.{minor}.0" for minor in range(169)]
        for version in versions:
            registry.store.push("windmill-labs/windmill", version, CREATED)
        async with registry, httpx.AsyncClient() as client:
            path = "/v2/windmill-labs/windmill/tags/list"
            auth = await authorized(registry, client, path)
            first = await client.get(f"{registry.url}{path}", headers=auth)
            link = first.headers["link"]
            assert link.endswith('>; rel="next"')
            second = await client.get(f"{registry.url}{link[1 : link.index('>')]}", headers=auth)
            everything = await client.get(f"{registry.url}{path}?n=10000", headers=auth)
        assert first.json()["tags"] == versions[:100]  # oldest first, not lexical
        assert second.json()["tags"] == versions[100:] and "link" not in second.headers
        assert everything.json()["tags"] == versions and "link" not in everything.headers

    async def test_docker_hub_quota_headers_count_gets_not_heads(self) -> None:
        """ "ratelimit-limit: 100;w=21600", "Using GET emulates a real pull and counts towards
        the limit. Using HEAD won't.", and over the limit a 429."""
        registry = FakeRegistry(token_origin="separate", pull_limit=2)
        registry.store.push("library/redis", "7.2.4", CREATED)
        async with registry, httpx.AsyncClient() as client:
            url = f"{registry.url}/v2/library/redis/manifests/7.2.4"
            auth = await authorized(registry, client, "/v2/library/redis/manifests/7.2.4")
            headers = {**auth, "Accept": ACCEPT_ALL}
            heads = [await client.head(url, headers=headers) for _ in range(3)]
            gets = [await client.get(url, headers=headers) for _ in range(3)]
        assert [h.headers["ratelimit-remaining"] for h in heads] == ["2;w=21600"] * 3
        assert heads[0].headers["ratelimit-limit"] == "2;w=21600"
        assert [g.status_code for g in gets] == [200, 200, 429]
        assert gets[1].headers["ratelimit-remaining"] == "0;w=21600"
        assert gets[2].json()["errors"][0]["code"] == "TOOMANYREQUESTS"

    async def test_docker_hub_tokens_come_from_another_origin(self) -> None:
        """Realm ``https://auth.docker.io/token``; the answer carries ``token`` and/or
        ``access_token`` and ``expires_in`` (300 observed on Hub)."""
        registry = FakeRegistry(token_origin="separate", service="registry.docker.io")
        registry.store.push("library/redis", "7.2.4", CREATED)
        async with registry, httpx.AsyncClient() as client:
            challenge = (await client.get(f"{registry.url}/v2/library/redis/tags/list")).headers
            realm = challenge["www-authenticate"].split('"')[1]
            answer = await client.get(
                realm,
                params={"service": "registry.docker.io", "scope": "repository:library/redis:pull"},
            )
        assert not realm.startswith(registry.url)
        assert answer.json()["token"] == answer.json()["access_token"]
        assert answer.json()["expires_in"] == 300

    async def test_throttle_sends_retry_after(self) -> None:
        registry = FakeRegistry()
        async with registry, httpx.AsyncClient() as client:
            registry.throttle("7", requests=1)
            limited = await client.get(f"{registry.url}/v2/")
            after = await client.get(f"{registry.url}/v2/")
        assert (limited.status_code, limited.headers["retry-after"]) == (429, "7")
        assert after.status_code == 401
        assert registry.requests["GET /v2/"] == 2

    async def test_a_private_repository_needs_basic_credentials_at_the_realm(self) -> None:
        registry = FakeRegistry(credentials={"robot": "pw"})
        registry.store.push("cmi/app", "1.0.0", CREATED)
        registry.store.make_private("cmi/app")
        async with registry, httpx.AsyncClient() as client:
            path = "/v2/cmi/app/tags/list"
            anonymous = await client.get(
                f"{registry.url}{path}", headers=await authorized(registry, client, path)
            )
            challenge = (await client.get(f"{registry.url}{path}")).headers["www-authenticate"]
            realm = challenge.split('"')[1]
            wrong = await client.get(
                realm, params={"scope": "repository:cmi/app:pull"}, auth=("robot", "no")
            )
            token = (
                await client.get(
                    realm, params={"scope": "repository:cmi/app:pull"}, auth=("robot", "pw")
                )
            ).json()["token"]
            granted = await client.get(
                f"{registry.url}{path}", headers={"Authorization": f"Bearer {token}"}
            )
        assert anonymous.status_code == 401
        assert 'error="insufficient_scope"' in anonymous.headers["www-authenticate"]
        assert wrong.status_code == 401
        assert granted.json()["tags"] == ["1.0.0"]
