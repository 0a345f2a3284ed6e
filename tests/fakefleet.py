"""Helpers for tests that talk to fake CapRover servers.

Every timing is shrunk so a full deploy or self-update takes a fraction of a second.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import httpx

from gc_tui.demo.fleet import FakeFleet
from gc_tui.demo.instance import FakeApp, FakeInstance

FAST: dict[str, Any] = {
    "build_seconds": 0.05,
    "service_update_seconds": 0.05,
    "update_pull_seconds": 0.05,
    "restart_seconds": 0.3,
    "not_ready_seconds": 0.3,
    "slow_seconds": 0.5,
    "drip_interval": 0.001,
    "huge_bytes": 4 * 1024 * 1024,
}


def fake_app(name: str, image: str = "", versions: int = 1, **fields: Any) -> FakeApp:
    """An app with ``versions`` entries, all deployed with ``image`` (default ``repo/<name>:1``)."""
    image = image or f"example/{name}:1.0.0"
    return FakeApp.with_history(name, [image] * versions, **fields)


def fake_instance(
    name: str = "alpha",
    password: str = "alpha-password",
    *,
    apps: Sequence[FakeApp | str] | None = None,
    **options: Any,
) -> FakeInstance:
    """A small instance with fast timings; ``apps`` may be names (each gets one version)."""
    app_list = [fake_app(a) if isinstance(a, str) else a for a in (apps or ["web", "worker"])]
    return FakeInstance(name=name, password=password, apps=app_list, **{**FAST, **options})


@asynccontextmanager
async def running_fleet(*instances: FakeInstance, **fleet_options: Any) -> AsyncIterator[FakeFleet]:
    fleet = FakeFleet(list(instances), **fleet_options)
    await fleet.start()
    try:
        yield fleet
    finally:
        await fleet.stop()


def api(base_url: str, path: str) -> str:
    return f"{base_url}/api/v2/{path.lstrip('/')}"


async def login(client: httpx.AsyncClient, base_url: str, password: str, otp: str = "") -> str:
    """Log in and return the token; fails the test with the envelope otherwise."""
    payload: dict[str, str] = {"password": password}
    if otp:
        payload["otpToken"] = otp
    response = await client.post(api(base_url, "login"), json=payload)
    body = response.json()
    assert body["status"] == 100, body
    token: str = body["data"]["token"]
    return token


def auth(token: str) -> dict[str, str]:
    return {"x-captain-auth": token, "x-namespace": "captain"}


async def deploy(
    client: httpx.AsyncClient,
    base_url: str,
    token: str,
    app: str,
    image: str,
    *,
    detached: bool = True,
) -> httpx.Response:
    definition = json.dumps({"schemaVersion": 2, "imageName": image})
    return await client.post(
        api(base_url, f"user/apps/appData/{app}") + ("?detached=1" if detached else ""),
        json={"captainDefinitionContent": definition, "gitHash": ""},
        headers=auth(token),
    )


async def build_status(
    client: httpx.AsyncClient, base_url: str, token: str, app: str
) -> dict[str, Any]:
    response = await client.get(api(base_url, f"user/apps/appData/{app}"), headers=auth(token))
    data: dict[str, Any] = response.json()["data"]
    return data


async def app_definitions(
    client: httpx.AsyncClient, base_url: str, token: str
) -> dict[str, dict[str, Any]]:
    response = await client.get(api(base_url, "user/apps/appDefinitions"), headers=auth(token))
    return {app["appName"]: app for app in response.json()["data"]["appDefinitions"]}


def builds_settled(*instances: FakeInstance) -> bool:
    """No build (nor its service update) runs or waits on any of ``instances``.

    The instances' ``changes`` fire when a build's task ends, so ``wait_until`` can wait for it.
    """
    return not any(instance.state.tasks for instance in instances)


async def eventually(
    predicate: Callable[[], Any], *, interval: float = 0.01, attempts: int = 1000
) -> None:
    """Poll ``predicate`` (sync or async) until it is truthy; a bounded number of polls.

    Only for what a client sees over HTTP: for the fake's own state, ``wait_until`` on the
    instance or fleet wakes on the change itself.
    """
    for _ in range(attempts):
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        await asyncio.sleep(interval)
    raise AssertionError("condition never became true")
