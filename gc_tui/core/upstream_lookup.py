"""Look up every repository a fleet runs: once each per run, all at once, from the cache when
it is fresh, and never holding anything else up.

The cost of a cold lookup is the registry's three round trips (challenge, token, tag list),
then the pages, then one round of HEADs and manifest GETs side by side: the running tags need
only a digest (a HEAD, which Docker Hub does not count as a pull), the newest tags their image's
``created`` time too, which takes two or three more round trips (manifest, config blob, and on
Docker Hub the blob's CDN). With ``LookupSettings.details`` off only the newest tags' digests
are read, by HEAD. A ``created``
time is kept per image digest, so once an image has been read, later runs pay a HEAD for it,
not a pull. A fresh cache costs no request at all.

Nothing here raises for one repository's trouble: it becomes that repository's ``error``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from gc_tui.core.http import HttpSettings, TlsContexts
from gc_tui.core.images import try_parse_image
from gc_tui.core.registry import RegistryClient
from gc_tui.core.registry_config import RegistryCredentials
from gc_tui.core.registry_errors import LookupProblem, RegistryError
from gc_tui.core.upstream import (
    RepositoryLookup,
    TagDetails,
    TagRules,
    UpstreamError,
    no_rules,
    wanted_tags,
)
from gc_tui.core.upstream_cache import DEFAULT_TTL, CacheContents, UpstreamCache, is_fresh


@dataclass(frozen=True)
class LookupSettings:
    ttl: timedelta = DEFAULT_TTL
    refresh: bool = False  # ignore fresh cache entries (``--refresh``)
    concurrency: int = 16  # repositories whose tag lists are read at once
    # What ``repushed`` and the detail view need: the newest images' created times (manifest
    # and config GETs, pulls on Docker Hub) and the running tags' digests. ``gc-tui upstream``,
    # ``--to-newest`` without ``--include-repushed`` and ``targets bump`` need only the newest
    # tags and their digests.
    details: bool = True


@dataclass(frozen=True)
class _Listing:
    checked_at: datetime
    tags: tuple[str, ...] = ()
    truncated: bool = False
    error: UpstreamError | None = None
    from_cache: bool = False
    cached: RepositoryLookup | None = None  # the cache's entry, fresh or not


def _unexpected(failure: Exception) -> UpstreamError:
    # The type only: an exception's text could quote a request.
    return UpstreamError(LookupProblem.REGISTRY_ERROR, f"unexpected {type(failure).__name__}")


class UpstreamLookups:
    """One run's lookups; share one instance between everything that asks."""

    def __init__(
        self,
        client: RegistryClient,
        *,
        cache: UpstreamCache | None = None,
        rules: TagRules | None = None,
        settings: LookupSettings | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._client = client
        self._cache = cache
        self._rules = rules or no_rules
        self._settings = settings or LookupSettings()
        self._now = now
        self._stored = cache.load() if cache is not None else CacheContents()
        for origin, until in self._stored.blocked.items():
            client.block(origin, until)
        self._created: dict[str, datetime] = dict(self._stored.created)
        self._listings: dict[str, asyncio.Task[_Listing]] = {}
        self._details: dict[tuple[str, str, bool], asyncio.Task[TagDetails]] = {}
        self._results: dict[str, RepositoryLookup] = {}
        self._limit = asyncio.Semaphore(max(1, self._settings.concurrency))

    async def __aenter__(self) -> UpstreamLookups:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop whatever is still running (the TUI quits, a command is interrupted).

        Lookups already done stay in ``results()``; nothing is written to the cache here.
        """
        tasks = [*self._listings.values(), *self._details.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def cached(self) -> dict[str, RepositoryLookup]:
        """What the cache file holds, fresh or stale, to show at once while lookups run."""
        return dict(self._stored.repositories)

    def results(self) -> dict[str, RepositoryLookup]:
        """Every repository looked up so far in this run."""
        return dict(self._results)

    async def lookup_all(
        self, wanted: Mapping[str, Iterable[str]], *, save: bool = True
    ) -> dict[str, RepositoryLookup]:
        """``wanted`` maps a repository to the tags apps run from it; all go out at once."""
        names = list(wanted)
        found = await asyncio.gather(*(self.lookup(name, wanted[name]) for name in names))
        if save:
            self.save()
        return {lookup.repository: lookup for lookup in found}

    async def lookup(self, repository: str, running_tags: Iterable[str] = ()) -> RepositoryLookup:
        """The repository's tags, and details of the tags ``running_tags`` make relevant."""
        image_ref = try_parse_image(repository)
        if image_ref is None:
            error = UpstreamError(LookupProblem.NOT_AN_IMAGE, "not a valid repository name")
            return RepositoryLookup(repository, self._now(), error=error)
        name = image_ref.repository
        listing = await self._listing(name)
        tag_filter = self._rules(name)
        if listing.error is not None:
            stale = listing.cached
            result = RepositoryLookup(
                name,
                stale.checked_at if stale else listing.checked_at,
                tags=stale.tags if stale else (),
                details=stale.details if stale else {},
                error=listing.error,
                from_cache=stale is not None,
            )
        else:
            need_created, need_digest = wanted_tags(running_tags, listing.tags, tag_filter)
            if not self._settings.details:
                need_created, need_digest = set(), need_created
            asked = [(tag, True) for tag in sorted(need_created)]
            asked += [(tag, False) for tag in sorted(need_digest)]
            answers = await asyncio.gather(
                *(self._detail(name, tag, c, listing) for tag, c in asked)
            )
            known = self._results.get(name)
            details = dict(known.details) if known and not known.error else {}
            details.update({tag: detail for (tag, _), detail in zip(asked, answers, strict=True)})
            result = RepositoryLookup(
                name,
                listing.checked_at,
                tags=listing.tags,
                details=details,
                truncated=listing.truncated,
                from_cache=listing.from_cache,
            )
        self._results[name] = result
        return result

    def save(self) -> None:
        """Write this run's findings into the cache file (nothing when there is no cache)."""
        if self._cache is None:
            return
        update = CacheContents(
            {name: r for name, r in self._results.items() if r.error is None},
            self._created,
            self._client.blocked_until(),
        )
        self._cache.save(update, self._now())

    # -- shared work -------------------------------------------------------------------------

    def _listing(self, name: str) -> asyncio.Task[_Listing]:
        task = self._listings.get(name)
        if task is None:
            task = asyncio.create_task(self._read_listing(name))
            self._listings[name] = task
        return task

    async def _read_listing(self, name: str) -> _Listing:
        cached = self._stored.repositories.get(name)
        now = self._now()
        if (
            cached is not None
            and not self._settings.refresh
            and is_fresh(cached, now, self._settings.ttl)
        ):
            return _Listing(cached.checked_at, cached.tags, cached.truncated, None, True, cached)
        async with self._limit:
            try:
                listing = await self._client.list_tags(name)
            except RegistryError as failure:
                return _Listing(now, error=UpstreamError.of(failure), cached=cached)
            except Exception as failure:  # noqa: BLE001 - one repository never stops the rest
                return _Listing(now, error=_unexpected(failure), cached=cached)
        return _Listing(self._now(), listing.tags, listing.truncated, None, False, cached)

    def _detail(
        self, name: str, tag: str, want_created: bool, listing: _Listing
    ) -> asyncio.Task[TagDetails]:
        key = (name, tag, want_created)
        task = self._details.get(key)
        if task is None:
            task = asyncio.create_task(self._read_detail(name, tag, want_created, listing))
            self._details[key] = task
        return task

    async def _read_detail(
        self, name: str, tag: str, want_created: bool, listing: _Listing
    ) -> TagDetails:
        cached = listing.cached.details.get(tag) if listing.cached else None
        if listing.from_cache and cached is not None and cached.digest is not None:
            if not want_created or cached.created is not None:
                return cached
        try:
            if want_created:
                return await self._created_of(name, tag, cached)
            digest = await self._client.digest(name, tag)
            return TagDetails(digest, self._created.get(digest or ""))
        except RegistryError:
            return TagDetails()
        except Exception:  # noqa: BLE001 - a detail is optional; the lookup stands without it
            return TagDetails()

    async def _created_of(self, name: str, tag: str, cached: TagDetails | None) -> TagDetails:
        if cached is not None and cached.digest in self._created:
            # Seen before: a HEAD (free on Docker Hub) tells whether it is still that image.
            digest = await self._client.digest(name, tag)
            if digest in self._created:
                return TagDetails(digest, self._created[digest or ""])
        try:
            details = await self._client.details(name, tag)
        except RegistryError as failure:
            if failure.problem is not LookupProblem.RATE_LIMITED or failure.retry_at is not None:
                raise
            # The pull quota is nearly spent: a digest from a HEAD still costs nothing.
            digest = await self._client.digest(name, tag)
            return TagDetails(digest, self._created.get(digest or ""))
        if details is None:
            return TagDetails()
        if details.created is not None:
            self._created[details.digest] = details.created
        return TagDetails(details.digest, details.created)


async def look_up(
    wanted: Mapping[str, Iterable[str]],
    *,
    mirrors: Mapping[str, str] | None = None,
    credentials: Mapping[str, RegistryCredentials] | None = None,
    rules: TagRules | None = None,
    settings: LookupSettings | None = None,
    cache: UpstreamCache | None = None,
    http: HttpSettings | None = None,
    tls: TlsContexts | None = None,
    proxy: str | None = None,
) -> dict[str, RepositoryLookup]:
    """One run for a headless command: look everything up, save the cache, close up.

    ``wanted`` is ``upstream_plan.wanted_repositories(audits)`` (or ``wanted_for_targets``);
    ``mirrors`` is ``registry_config.mirrors(...)``; ``rules`` is ``Targets.tag_filter_for``.
    """
    async with (
        RegistryClient(
            mirrors=mirrors, credentials=credentials, http=http, tls=tls, proxy=proxy
        ) as client,
        UpstreamLookups(client, cache=cache, rules=rules, settings=settings) as lookups,
    ):
        return await lookups.lookup_all(wanted)
