"""What the headless commands ask the image registries, configured from the settings.

One function, so ``upstream``, ``audit --upstream``, ``deploy --to-newest`` and ``targets bump``
use the same mirrors, credentials, tag rules, proxy, limits and cache (docs/registries.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from gc_tui.cli.context import Context
from gc_tui.core.registry_config import RegistryCredentials, mirrors
from gc_tui.core.targets import Targets
from gc_tui.core.upstream import RepositoryLookup, TagRules, no_rules


def tag_rules(targets: Targets | None) -> TagRules:
    return targets.tag_filter_for if targets is not None else no_rules


async def look_up_upstream(
    ctx: Context,
    wanted: Mapping[str, Iterable[str]],
    *,
    details: bool,
    targets: Targets | None,
    credentials: Mapping[str, RegistryCredentials] | None = None,
) -> dict[str, RepositoryLookup]:
    """Every wanted repository, once each, all at once; the cache unless --refresh."""
    from gc_tui.core.upstream_cache import UpstreamCache
    from gc_tui.core.upstream_lookup import LookupSettings, look_up

    config = ctx.settings.config
    return await look_up(
        wanted,
        mirrors=mirrors(config.registries),
        credentials=credentials,
        rules=tag_rules(targets),
        settings=LookupSettings(refresh=bool(getattr(ctx.args, "refresh", False)),
                                details=details),
        cache=UpstreamCache(),
        http=config.client,
        proxy=config.proxy,
    )
