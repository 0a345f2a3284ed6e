"""An async client for the OCI distribution API: a repository's tags, a tag's digest, an
image's ``created`` time. It works with any registry, Docker Hub and GHCR included.

What it does, and why (docs/registries.md has the sources):

- ``GET /v2/<name>/tags/list`` follows ``Link: rel="next"`` (GHCR lists 100 a page, oldest
  first, so the newest tags are on the last page) up to a page cap, same origin only.
- ``HEAD /v2/<name>/manifests/<tag>`` with all four manifest and index types in ``Accept``,
  for ``Docker-Content-Digest``: without the index types some registries answer 404 for
  multi-platform images. Docker Hub does not count a HEAD as a pull; a GET it does.
- The ``created`` time comes from the image's config blob, through its manifest (and for an
  index, the linux/amd64 manifest). That costs pulls, so the caller asks only for the tags it
  needs, and nothing is fetched when the announced quota is nearly spent.
- The bearer challenge is answered with an anonymous token (or one got with Basic credentials
  from the vault), kept per realm, service and scope, and the request is sent again.
- HTTPS everywhere but loopback; a token realm or a redirect is followed only under the same
  rule, and credentials and tokens go only to the host they are for.
- A 429 blocks its registry until the time the registry named: a short wait is waited out
  once, a long one is reported (``rate-limited``), and nothing more is sent there meanwhile.
- A network failure marks the registry down for the rest of the run, so an offline machine
  pays for one failed connection per registry, not one per repository.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from urllib.parse import urljoin

import httpx

from gc_tui.core.http import HttpSettings, NetworkFailure, TlsContexts, fetch, make_client
from gc_tui.core.images import InvalidImage
from gc_tui.core.registry_answers import (
    ACCEPT_MANIFESTS,
    DIGEST,
    Answer,
    checked_tag,
    digest_of,
    is_index,
    json_object,
    next_link,
    origin_of,
    platform_manifest,
    raise_for_status,
    tags_of,
)
from gc_tui.core.registry_auth import Authorizer, parse_challenge
from gc_tui.core.registry_config import RegistryCredentials
from gc_tui.core.registry_errors import LookupProblem, RegistryError
from gc_tui.core.registry_limits import RateLimit, rate_limit_of, retry_at_of
from gc_tui.core.registry_ref import RegistryLocation, allowed_origin, locate
from gc_tui.core.timestamps import format_timestamp, parse_timestamp

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# A 429 without a date still keeps us away this long: asking again at once is hammering.
_DEFAULT_BACKOFF = 60.0


@dataclass(frozen=True)
class RegistryOptions:
    page_cap: int = 50  # pages of tags/list; past it the listing is marked truncated
    page_size: int = 1000  # asked with ?n=; registries that refuse it get a second try without
    rate_limit_wait: float = 5.0  # the longest Retry-After waited out, once per request
    pull_reserve: int = 10  # with this few pulls left, no manifest is fetched (HEADs only)
    connections_per_registry: int = 32  # a run's lookups side by side: 15 repositories x 2


@dataclass(frozen=True)
class TagListing:
    tags: tuple[str, ...]  # valid tag names, as the registry listed them, each once
    pages: int
    truncated: bool  # the page cap, or a next page on another host, stopped the listing


@dataclass(frozen=True)
class ImageDetails:
    digest: str  # what HEAD answers: for a multi-platform image, the index's digest
    created: datetime | None  # the config's ``created``; None when the image does not say


class RegistryClient:
    """One per run; ``aclose`` (or ``async with``) closes its connections."""

    def __init__(
        self,
        *,
        mirrors: Mapping[str, str] | None = None,
        credentials: Mapping[str, RegistryCredentials] | None = None,
        http: HttpSettings | None = None,
        tls: TlsContexts | None = None,
        proxy: str | None = None,
        options: RegistryOptions | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._mirrors = dict(mirrors or {})
        self._credentials = dict(credentials or {})
        self._options = options or RegistryOptions()
        base = http or HttpSettings()
        self._http = replace(
            base, max_connections=max(base.max_connections, self._options.connections_per_registry)
        )
        self._tls = tls or TlsContexts()
        self._proxy = proxy
        self._clock = clock
        self._sleep = sleep
        self._clients: dict[str, httpx.AsyncClient] = {}
        self._down: dict[str, str] = {}  # origin -> why
        self._blocked_until: dict[str, float] = {}  # origin -> epoch seconds
        self._limits: dict[str, RateLimit] = {}
        self._auth = Authorizer(self._credentials, self._mirrors)
        self.requests_sent = 0

    async def __aenter__(self) -> RegistryClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        self._auth.cancel()
        clients, self._clients = list(self._clients.values()), {}
        await asyncio.gather(*(client.aclose() for client in clients), return_exceptions=True)

    def location(self, repository: str) -> RegistryLocation:
        try:
            return locate(repository, self._mirrors)
        except InvalidImage as err:
            raise RegistryError(LookupProblem.NOT_AN_IMAGE, err.reason) from None

    @property
    def pending_token_requests(self) -> int:
        """Token requests still running, shared by whoever waits for them."""
        return self._auth.pending()

    def rate_limits(self) -> dict[str, RateLimit]:
        """The last quota each registry origin announced this run."""
        return dict(self._limits)

    def blocked_until(self) -> dict[str, float]:
        """Origins that answered 429, and until when (epoch seconds) they asked to be left alone."""
        return dict(self._blocked_until)

    def block(self, origin: str, until: float) -> None:
        """Leave ``origin`` alone until ``until``: a 429 remembered from an earlier run."""
        self._blocked_until[origin] = max(until, self._blocked_until.get(origin, 0.0))

    # -- the API --------------------------------------------------------------------------

    async def list_tags(self, repository: str) -> TagListing:
        location = self.location(repository)
        options = self._options
        url = location.url(f"tags/list?n={options.page_size}")
        tags: dict[str, None] = {}
        pages = 0
        while True:
            answer = await self._call(location, "GET", url)
            if answer.status == 400 and pages == 0 and "?n=" in url:
                # Quay refuses a page size above 100 (TOO_MANY_TAGS_REQUESTED): let it choose.
                url = location.url("tags/list")
                continue
            pages += 1
            raise_for_status(answer, "the tag list")
            for tag in tags_of(answer.body):
                tags[tag] = None
            next_url = next_link(answer.headers.get_list("link"), url)
            if next_url is None:
                return TagListing(tuple(tags), pages, truncated=False)
            if origin_of(next_url) != location.origin or pages >= options.page_cap:
                return TagListing(tuple(tags), pages, truncated=True)
            url = next_url

    async def digest(self, repository: str, tag: str) -> str | None:
        """The tag's digest from a HEAD (free on Docker Hub); None when the tag is gone."""
        location = self.location(repository)
        url = location.url(f"manifests/{checked_tag(tag)}")
        answer = await self._call(location, "HEAD", url, accept=ACCEPT_MANIFESTS)
        if answer.status == 404:
            return None
        raise_for_status(answer, "the manifest")
        digest = str(answer.headers.get("docker-content-digest", ""))
        if DIGEST.fullmatch(digest):
            return digest
        # Older registries leave the header out; then only the manifest itself tells.
        details = await self.details(repository, tag)
        return details.digest if details else None

    async def details(self, repository: str, tag: str) -> ImageDetails | None:
        """The tag's digest and its image's ``created`` time; None when the tag is gone.

        Costs one to three GETs, which Docker Hub counts as pulls: refused with
        ``rate-limited`` when the announced quota is down to the reserve.
        """
        location = self.location(repository)
        limit = self._limits.get(location.origin)
        if limit and limit.remaining is not None and limit.remaining <= self._options.pull_reserve:
            raise RegistryError(
                LookupProblem.RATE_LIMITED, f"pull quota nearly spent: {limit.describe()}"
            )
        answer = await self._call(
            location, "GET", location.url(f"manifests/{checked_tag(tag)}"), accept=ACCEPT_MANIFESTS
        )
        if answer.status == 404:
            return None
        raise_for_status(answer, "the manifest")
        digest = digest_of(answer)
        manifest = json_object(answer.body, "the manifest")
        if is_index(manifest, answer):
            chosen = platform_manifest(manifest)
            if chosen is None:
                return ImageDetails(digest, None)
            answer = await self._call(
                location, "GET", location.url(f"manifests/{chosen}"), accept=ACCEPT_MANIFESTS
            )
            raise_for_status(answer, "the platform manifest")
            manifest = json_object(answer.body, "the platform manifest")
        config = manifest.get("config")
        config_digest = config.get("digest") if isinstance(config, dict) else None
        if not isinstance(config_digest, str) or not DIGEST.fullmatch(config_digest):
            return ImageDetails(digest, None)
        blob = await self._blob(location, config_digest)
        created = parse_timestamp(json_object(blob, "the image config").get("created"))
        return ImageDetails(digest, created)

    # -- requests ---------------------------------------------------------------------------

    async def _blob(self, location: RegistryLocation, digest: str) -> bytes:
        answer = await self._call(location, "GET", location.url(f"blobs/{digest}"))
        if answer.status in _REDIRECTS:
            # Docker Hub sends blobs from a CDN: follow once, and only where it is safe; the
            # token stays behind, it is for the registry alone.
            target = urljoin(location.url(f"blobs/{digest}"), answer.headers.get("location", ""))
            if not allowed_origin(target):
                raise RegistryError(LookupProblem.REGISTRY_ERROR, "blob redirected off HTTPS")
            if origin_of(target) == location.origin:
                answer = await self._call(location, "GET", target)
            else:
                answer = await self._send(origin_of(target), "GET", target, {})
        raise_for_status(answer, "the image config")
        if "sha256:" + hashlib.sha256(answer.body).hexdigest() != digest:
            raise RegistryError(LookupProblem.REGISTRY_ERROR, "the image config does not match")
        return answer.body

    async def _call(
        self, location: RegistryLocation, method: str, url: str, *, accept: str | None = None
    ) -> Answer:
        """One request to the registry, answering its challenge once if it sends one."""
        scope = location.pull_scope
        headers = {"Accept": accept} if accept else {}
        sent_auth = self._auth.remembered(location.origin, scope)
        if sent_auth is not None:
            headers["Authorization"] = sent_auth
        answer = await self._send(location.origin, method, url, headers)
        if answer.status != 401:
            return answer
        challenge = parse_challenge(answer.headers.get("www-authenticate"))
        headers["Authorization"] = await self._auth.answer(
            location, challenge, scope, renew=sent_auth is not None, send=self._send
        )
        answer = await self._send(location.origin, method, url, headers)
        if answer.status == 401:
            raise RegistryError(
                LookupProblem.DENIED,
                "the registry refused the token: a private repository, or none of that name",
            )
        return answer

    async def _send(
        self,
        origin: str,
        method: str,
        url: str,
        headers: dict[str, str],
        *,
        params: dict[str, str] | None = None,
        waited: bool = False,
    ) -> Answer:
        await self._wait_if_blocked(origin)
        down = self._down.get(origin)
        if down is not None:
            raise RegistryError(LookupProblem.UNREACHABLE, down)
        try:
            answer = await fetch(
                self._client(origin), method, url, self._http, headers=headers, params=params
            )
        except NetworkFailure as failure:
            self._down[origin] = str(failure)
            raise RegistryError(LookupProblem.UNREACHABLE, str(failure)) from None
        self.requests_sent += 1
        limit = rate_limit_of(answer.headers)
        if limit is not None:
            self._limits[origin] = limit
        if answer.status != 429:
            return answer
        now = self._clock()
        until = retry_at_of(answer.headers, now) or now + _DEFAULT_BACKOFF
        self.block(origin, until)
        if not waited and until - now <= self._options.rate_limit_wait:
            return await self._send(origin, method, url, headers, params=params, waited=True)
        raise _rate_limited(self._blocked_until[origin])

    async def _wait_if_blocked(self, origin: str) -> None:
        until = self._blocked_until.get(origin)
        if until is None:
            return
        wait = until - self._clock()
        if wait <= 0:
            del self._blocked_until[origin]
            return
        if wait > self._options.rate_limit_wait:
            raise _rate_limited(until)
        await self._sleep(wait)

    def _client(self, origin: str) -> httpx.AsyncClient:
        client = self._clients.get(origin)
        if client is None:
            # One shared context even for plain HTTP: given none, httpx builds its own per
            # client, which costs more than the whole request to a loopback registry.
            tls = self._tls.context()
            client = make_client(origin, tls=tls, settings=self._http, proxy=self._proxy)
            self._clients[origin] = client
        return client


def _rate_limited(until: float) -> RegistryError:
    moment = format_timestamp(datetime.fromtimestamp(until, UTC))
    return RegistryError(LookupProblem.RATE_LIMITED, f"retry after {moment}", retry_at=until)
