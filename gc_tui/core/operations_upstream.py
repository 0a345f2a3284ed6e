"""The registries' side of an interactive session: one lookup per repository and tag, the
cache read at once and written as answers come, everything dropped at the idle lock.

FleetOperations asks as audits arrive; the audit itself never waits for a registry
(docs/registries.md, "In the TUI").
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping

from gc_tui.core.model import InstanceAudit
from gc_tui.core.registry import RegistryClient
from gc_tui.core.registry_config import RegistryCredentials, mirrors
from gc_tui.core.targets import Targets
from gc_tui.core.upstream import RepositoryLookup, running_tags_by_repository
from gc_tui.core.upstream_cache import UpstreamCache
from gc_tui.core.upstream_lookup import UpstreamLookups
from gc_tui.settings import Settings


class Upstream:
    def __init__(
        self,
        settings: Settings,
        targets: Targets | None,
        credentials: Mapping[str, RegistryCredentials],
        *,
        cache: UpstreamCache | None = None,
    ) -> None:
        config = settings.config
        self.client = RegistryClient(
            mirrors=mirrors(config.registries), credentials=credentials, http=config.client,
            proxy=config.proxy,
        )
        self.lookups = UpstreamLookups(
            self.client,
            cache=cache if cache is not None else UpstreamCache(),
            rules=targets.tag_filter_for if targets is not None else None,
        )
        self._asked: dict[str, set[str]] = {}  # repository -> tags asked about
        self._pending = 0

    @property
    def pending(self) -> int:
        """Lookups still waiting for a registry (the cache is written when none is)."""
        return self._pending

    def cached(self) -> list[RepositoryLookup]:
        return list(self.lookups.cached().values())

    def new_tags(self, audit: InstanceAudit) -> dict[str, list[str]]:
        """The repositories and tags of ``audit``'s apps not asked about yet."""
        wanted = running_tags_by_repository(app.image for app in audit.apps)
        fresh: dict[str, list[str]] = {}
        for repository, tags in wanted.items():
            asked = self._asked.setdefault(repository, set())
            new = [tag for tag in tags if tag not in asked]
            if new or not asked:
                asked.update(new)
                fresh[repository] = new
        return fresh

    async def look_up(self, repository: str, tags: list[str]) -> RepositoryLookup | None:
        """The repository's lookup (its listing is shared by every caller); None if cancelled.

        The cache is written whenever the last pending lookup ends.
        """
        self._pending += 1
        try:
            return await self.lookups.lookup(repository, tags)
        finally:
            self._pending -= 1
            if self._pending == 0:
                with contextlib.suppress(OSError):
                    self.lookups.save()

    async def aclose(self) -> None:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self.lookups.aclose()
        with contextlib.suppress(Exception):
            await self.client.aclose()
