"""The fake's test controls: builds held until the test releases them, and waits on its record.

Clients talk real HTTP (httpx) to fakes on loopback; no test here sleeps or polls the fake.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import textwrap

import httpx
import pytest

from gc_tui.demo import FakeFleetThread, ReceivedDeploy
from tests.fakefleet import (
    api,
    app_definitions,
    build_status,
    builds_settled,
    deploy,
    fake_app,
    fake_instance,
    login,
    running_fleet,
)

PULL_DENIED = "Error: (HTTP code 404) unexpected - pull access denied for example/web"


class TestBuildGate:
    """A held build reports building for as long as the test holds it, then ends as told."""

    async def test_a_held_build_stays_building_until_released(self) -> None:
        instance = fake_instance(apps=[fake_app("web", versions=2)], build_seconds=0)
        instance.hold_builds()
        async with running_fleet(instance) as fleet, httpx.AsyncClient() as client:
            base = fleet.url("alpha")
            token = await login(client, base, "alpha-password")
            assert (await deploy(client, base, token, "web", "example/web:2")).status_code == 200
            await instance.wait_until(lambda: instance.held_builds() == ["web"])
            for _ in range(3):  # however often a client looks
                status = await build_status(client, base, token, "web")
                assert status["isAppBuilding"] is True and status["isBuildFailed"] is False
            held = (await app_definitions(client, base, token))["web"]
            assert held["isAppBuilding"] is True and held["deployedVersion"] == 1
            instance.release_builds()
            await instance.wait_until(lambda: builds_settled(instance))
            status = await build_status(client, base, token, "web")
            done = (await app_definitions(client, base, token))["web"]
            # Released means open: the next build is not held.
            await deploy(client, base, token, "web", "example/web:3")
            await instance.wait_until(lambda: builds_settled(instance))
        assert status["isAppBuilding"] is False and status["isBuildFailed"] is False
        assert done["deployedVersion"] == 2
        assert done["versions"][-1]["deployedImageName"] == "example/web:2"
        assert instance.apps[0].deployed_image == "example/web:3"

    async def test_released_as_failed_the_pull_fails(self) -> None:
        instance = fake_instance(apps=[fake_app("web", versions=2)])
        instance.hold_builds()
        async with running_fleet(instance) as fleet, httpx.AsyncClient() as client:
            base = fleet.url("alpha")
            token = await login(client, base, "alpha-password")
            await deploy(client, base, token, "web", "example/web:2")
            await instance.wait_until(lambda: instance.held_builds() == ["web"])
            instance.release_builds(fail=True)
            await instance.wait_until(lambda: builds_settled(instance))
            status = await build_status(client, base, token, "web")
            app = (await app_definitions(client, base, token))["web"]
        lines = [line for line in status["logs"]["lines"] if line]
        assert status["isAppBuilding"] is False and status["isBuildFailed"] is True
        assert lines[-4:-1] == ["Build has failed!", "----------------------", "Deploy failed!"]
        assert lines[-1].startswith(PULL_DENIED)
        assert app["deployedVersion"] == 1 and "deployedImageName" not in app["versions"][-1]

    async def test_release_then_hold_lets_exactly_the_waiting_builds_through(self) -> None:
        """Builds queued behind a held one wait too, and can be stepped through one by one."""
        instance = fake_instance(apps=["a", "b"], service_update_seconds=0)
        instance.hold_builds()
        async with running_fleet(instance) as fleet, httpx.AsyncClient() as client:
            base = fleet.url("alpha")
            token = await login(client, base, "alpha-password")
            await deploy(client, base, token, "a", "example/a:2")
            await deploy(client, base, token, "b", "example/b:2")
            await instance.wait_until(lambda: instance.held_builds() == ["a"])
            assert (await build_status(client, base, token, "b"))["isAppBuilding"] is True
            instance.release_builds()
            instance.hold_builds()
            await instance.wait_until(lambda: instance.held_builds() == ["b"])
            a_done = await build_status(client, base, token, "a")
            b_held = await build_status(client, base, token, "b")
            instance.release_builds()
            await instance.wait_until(lambda: builds_settled(instance))
        assert a_done["isAppBuilding"] is False and a_done["isBuildFailed"] is False
        assert b_held["isAppBuilding"] is True
        assert [app.deployed_image for app in instance.apps] == ["example/a:2", "example/b:2"]

    async def test_a_restart_kills_held_builds_and_keeps_holding(self) -> None:
        instance = fake_instance(apps=["web"])
        instance.hold_builds()
        async with running_fleet(instance) as fleet, httpx.AsyncClient() as client:
            base = fleet.url("alpha")
            token = await login(client, base, "alpha-password")
            await deploy(client, base, token, "web", "example/web:2")
            await instance.wait_until(lambda: instance.held_builds() == ["web"])
            instance.restart()
            await instance.wait_until(lambda: instance.held_builds() == [])
            token = await login(client, base, "alpha-password")
            await deploy(client, base, token, "web", "example/web:3")
            await instance.wait_until(lambda: instance.held_builds() == ["web"])
            instance.release_builds()
            await instance.wait_until(lambda: builds_settled(instance))
        assert instance.apps[0].deployed_image == "example/web:3"

    def test_fleet_wide_hold_from_the_test_thread(self) -> None:
        """On a FakeFleetThread the gate is driven from the test's thread, per instance or all."""
        alpha = fake_instance("alpha", apps=["web"])
        beta = fake_instance("beta", "beta-password", apps=["web"])
        with FakeFleetThread([alpha, beta]) as fleet, httpx.Client() as client:
            fleet.hold_builds()
            for instance in (alpha, beta):
                base = fleet.url(instance.name)
                token = _login_sync(client, base, instance.password)
                _deploy_sync(client, base, token, "web", f"example/web:{instance.name}")
            fleet.wait_until(lambda: alpha.held_builds() == beta.held_builds() == ["web"])
            fleet.release_builds("alpha")
            fleet.wait_until(lambda: builds_settled(alpha))
            assert beta.held_builds() == ["web"]
            fleet.release_builds()
            fleet.wait_until(lambda: builds_settled(alpha, beta))
        assert alpha.apps[0].deployed_image == "example/web:alpha"
        assert beta.apps[0].deployed_image == "example/web:beta"


class TestWaits:
    """A wait wakes on the fake's own record: each request, build step and restart phase."""

    async def test_every_recorded_request_wakes_a_wait(self) -> None:
        instance = fake_instance()
        async with running_fleet(instance) as fleet, httpx.AsyncClient() as client:
            url = api(fleet.url("alpha"), "login")
            two_logins = asyncio.create_task(
                instance.wait_until(lambda: instance.login_attempts() == 2)
            )
            await client.post(url, json={"password": "wrong"})
            assert not two_logins.done()
            await client.post(url, json={"password": "wrong"})
            await two_logins

    async def test_wait_for_the_deploy_of_one_app(self) -> None:
        instance = fake_instance(apps=["web", "worker"])
        async with running_fleet(instance) as fleet, httpx.AsyncClient() as client:
            base = fleet.url("alpha")
            web_deployed = asyncio.create_task(
                fleet.wait_until(lambda: ("web", "example/web:2") in instance.deploy_requests())
            )
            token = await login(client, base, "alpha-password")
            await deploy(client, base, token, "worker", "example/worker:2")
            await fleet.wait_until(lambda: builds_settled(instance))
            assert not web_deployed.done()
            await deploy(client, base, token, "web", "example/web:2")
            await web_deployed
            await fleet.wait_until(lambda: builds_settled(instance))

    async def test_wait_across_threads_and_loops(self) -> None:
        """From another loop (a Textual app's, say) the wait is awaited with wait_until_async."""
        instance = fake_instance(apps=["web"])
        instance.hold_builds()
        with FakeFleetThread([instance]) as fleet:
            base = fleet.url("alpha")
            async with httpx.AsyncClient() as client:
                token = await login(client, base, "alpha-password")
                await deploy(client, base, token, "web", "example/web:2")
                await fleet.wait_until_async(lambda: instance.held_builds() == ["web"])
                assert (await build_status(client, base, token, "web"))["isAppBuilding"] is True
                fleet.release_builds()
                await fleet.wait_until_async(lambda: builds_settled(instance))
                assert (await build_status(client, base, token, "web"))["isAppBuilding"] is False

    def test_a_client_killed_after_its_second_deploy(self) -> None:
        """The shape of a crash test: the client runs in a subprocess, the fake in the test.

        Builds are held, so the client (which waits for each build before the next deploy)
        can only have sent what the test allowed when it is killed.
        """
        alpha = fake_instance("alpha", apps=["a", "b", "c"])
        with FakeFleetThread([alpha]) as fleet:
            fleet.hold_builds()
            client = subprocess.Popen(
                [sys.executable, "-c", _DEPLOY_ONE_BY_ONE, fleet.url("alpha"), "alpha-password"],
                stdout=subprocess.DEVNULL,
            )
            try:
                fleet.wait_until(lambda: alpha.held_builds() == ["a"])
                fleet.release_builds()
                fleet.hold_builds()
                fleet.wait_until(lambda: alpha.held_builds() == ["b"])
                client.send_signal(signal.SIGKILL)
                client.wait()
            finally:
                if client.poll() is None:
                    client.kill()
            fleet.release_builds()
            fleet.wait_until(lambda: builds_settled(alpha))
            received = fleet.deploy_requests()
        assert received == [
            ReceivedDeploy("alpha", "a", "example/a:2"),
            ReceivedDeploy("alpha", "b", "example/b:2"),
        ]
        assert [app.deployed_image for app in alpha.apps] == [
            "example/a:2",
            "example/b:2",
            "example/c:1.0.0",
        ]

    def test_deploys_are_listed_in_arrival_order_across_the_fleet(self) -> None:
        alpha = fake_instance("alpha", apps=["web"])
        beta = fake_instance("beta", "beta-password", apps=["web"])
        with FakeFleetThread([alpha, beta]) as fleet, httpx.Client() as client:
            tokens = {
                i.name: _login_sync(client, fleet.url(i.name), i.password) for i in (alpha, beta)
            }
            for name, image in (("beta", "x:1"), ("alpha", "x:2"), ("beta", "x:3")):
                _deploy_sync(client, fleet.url(name), tokens[name], "web", image)
            fleet.wait_until(lambda: builds_settled(alpha, beta))
            assert fleet.deploy_requests() == [
                ("beta", "web", "x:1"),
                ("alpha", "web", "x:2"),
                ("beta", "web", "x:3"),
            ]

    async def test_a_wait_that_is_never_satisfied_fails(self) -> None:
        async with running_fleet(fake_instance()) as fleet:
            with pytest.raises(TimeoutError, match="never reached"):
                await fleet.wait_until(lambda: False, timeout=0.01)


# A client that deploys a, b and c one after another, waiting for each build to end, as
# `gc-tui deploy` does for the apps of one server.
_DEPLOY_ONE_BY_ONE = textwrap.dedent(
    """
    import json, sys, time
    import httpx

    base, password = sys.argv[1], sys.argv[2]
    with httpx.Client(base_url=base + "/api/v2") as client:
        token = client.post("/login", json={"password": password}).json()["data"]["token"]
        headers = {"x-captain-auth": token}
        for app in ("a", "b", "c"):
            definition = json.dumps({"schemaVersion": 2, "imageName": f"example/{app}:2"})
            client.post(
                f"/user/apps/appData/{app}?detached=1",
                json={"captainDefinitionContent": definition, "gitHash": ""},
                headers=headers,
            )
            while client.get(f"/user/apps/appData/{app}", headers=headers).json()["data"][
                "isAppBuilding"
            ]:
                time.sleep(0.02)
    """
)


def _login_sync(client: httpx.Client, base: str, password: str) -> str:
    body = client.post(api(base, "login"), json={"password": password}).json()
    assert body["status"] == 100, body
    token: str = body["data"]["token"]
    return token


def _deploy_sync(client: httpx.Client, base: str, token: str, app: str, image: str) -> None:
    definition = json.dumps({"schemaVersion": 2, "imageName": image})
    response = client.post(
        api(base, f"user/apps/appData/{app}?detached=1"),
        json={"captainDefinitionContent": definition, "gitHash": ""},
        headers={"x-captain-auth": token},
    )
    assert response.json()["status"] == 101, response.text
