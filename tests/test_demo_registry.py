"""The demo's registries give every demo app a NEWEST and show every upstream state.

This is what ``gc-tui demo`` will show once wired: the fleet of demo_fleet.json looked up in
the three fake registries through the real client, with the demo's [upstream] rule for Redis.
"""

from __future__ import annotations

import asyncio
import tomllib
from collections import Counter
from pathlib import Path

import pytest

from gc_tui.core.model import AppInfo
from gc_tui.core.registry import RegistryClient
from gc_tui.core.registry_config import RegistryCredentials, parse_registries
from gc_tui.core.secret import Secret
from gc_tui.core.targets import targets_from_mapping
from gc_tui.core.upstream import UpstreamState, running_tags_by_repository
from gc_tui.core.upstream_lookup import UpstreamLookups
from gc_tui.core.upstream_plan import upstream_of_app
from gc_tui.demo.catalog import demo_fleet_data
from gc_tui.demo.registry_catalog import (
    DEMO_REGISTRY_PASSWORD,
    DEMO_REGISTRY_USER,
    DEMO_UPSTREAM_RULES,
    DemoRegistries,
)

DEPLOYED = "2026-08-20T14:30:00.000Z"  # every demo app's deploy time (demo/instance.py)


@pytest.fixture(scope="module")
def states() -> dict[str, tuple[UpstreamState, str | None]]:
    return asyncio.run(_states())


async def _states() -> dict[str, tuple[UpstreamState, str | None]]:
    """image -> (state, newest) for every distinct image the demo fleet runs."""
    data = demo_fleet_data()
    images = sorted({str(a["image"]) for i in data["instances"] for a in i["apps"]})
    targets = targets_from_mapping(data["target_images"], upstream=DEMO_UPSTREAM_RULES)
    credentials = {
        "registry.example.org": RegistryCredentials(
            DEMO_REGISTRY_USER, Secret(DEMO_REGISTRY_PASSWORD)
        )
    }
    async with DemoRegistries() as registries:
        async with RegistryClient(mirrors=registries.mirrors(), credentials=credentials) as client:
            lookups = UpstreamLookups(client, rules=targets.tag_filter_for)
            found = await lookups.lookup_all(running_tags_by_repository(images), save=False)
    result = {}
    for image in images:
        upstream = upstream_of_app(
            AppInfo("app", 1, image, DEPLOYED), found, targets.tag_filter_for
        )
        result[image] = (upstream.state, upstream.newest)
    return result


class TestTheDemoCatalogue:
    """Every non-manual app has a NEWEST; the scenarios the catalogue promises are there."""

    def test_every_app_has_a_newest(
        self, states: dict[str, tuple[UpstreamState, str | None]]
    ) -> None:
        missing = [
            image
            for image, (state, newest) in states.items()
            if newest is None and state is not UpstreamState.MANUAL
        ]
        assert missing == []
        assert all(state is not UpstreamState.UNKNOWN for state, _ in states.values())

    @pytest.mark.parametrize(
        ("image", "state", "newest"),
        [
            ("communityfirst/gc-comapeo-cloud:0.4.0", UpstreamState.REPUSHED, "0.4.0"),
            ("communityfirst/gc-comapeo-cloud:0.3.0", UpstreamState.BEHIND, "0.4.0"),
            (
                "communityfirst/guardianconnector-explorer:20260731-948",
                UpstreamState.BEHIND,
                "20260815-1002",
            ),
            (
                "communityfirst/guardianconnector-landing-page:20260728-165",
                UpstreamState.CURRENT,
                "20260728-165",
            ),
            ("ghcr.io/windmill-labs/windmill:1.775.2", UpstreamState.BEHIND, "1.780.1"),
            ("redis:7.2.4", UpstreamState.BEHIND, "7.2.10"),
            ("filebrowser/filebrowser:v2.36.1-s6", UpstreamState.BEHIND, "v2.64.1-s6"),
            ("filebrowser/filebrowser:v2", UpstreamState.FLOATING, "v2.64.1"),
            ("postgres:17", UpstreamState.FLOATING, "17.6"),
            ("img-captain-redis:0", UpstreamState.MANUAL, None),
            (
                "registry.example.org/cmi/superset-docker:4.1.2_20250519-1315",
                UpstreamState.BEHIND,
                "4.1.4_20251002-0232",
            ),
        ],
    )
    def test_scenario(
        self,
        states: dict[str, tuple[UpstreamState, str | None]],
        image: str,
        state: UpstreamState,
        newest: str | None,
    ) -> None:
        assert states[image] == (state, newest)

    def test_all_states_but_unknown_appear(
        self, states: dict[str, tuple[UpstreamState, str | None]]
    ) -> None:
        seen = Counter(state for state, _ in states.values())
        assert set(seen) == set(UpstreamState) - {UpstreamState.UNKNOWN}


async def test_the_config_the_demo_needs_parses() -> None:
    async with DemoRegistries() as registries:
        text = registries.config_toml(vault_entry="Registries/registry.example.org")
        settings = parse_registries(tomllib.loads(text)["registries"], Path("demo.toml"))
    assert {host: s.url for host, s in settings.items()} == registries.mirrors()
    assert settings["registry.example.org"].vault_entry == "Registries/registry.example.org"
