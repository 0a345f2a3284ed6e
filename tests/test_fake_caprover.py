"""The fake CapRover must behave like the real server described in docs/caprover-api.md.

Every test talks real HTTP (httpx) to fakes on loopback, as the client under test will.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import ssl
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from gc_tui.core.totp import totp_code
from gc_tui.demo import (
    FakeApp,
    FakeFleetThread,
    demo_instances,
    demo_vault_entries,
    synthetic_fleet,
)
from gc_tui.demo.captain import HEALTH_UUID
from gc_tui.demo.captain_state import BuildLog
from gc_tui.demo.catalog import demo_fleet_data, older_image
from gc_tui.demo.demo_vault import write_demo_vault
from tests.fakefleet import (
    api,
    app_definitions,
    auth,
    build_status,
    builds_settled,
    deploy,
    eventually,
    fake_app,
    fake_instance,
    login,
    running_fleet,
)

OTP_SEED = "JBSWY3DPEHPK3PXP"


class TestTransport:
    """Envelope, routing and the global checks every request goes through."""

    async def test_login_envelope(self) -> None:
        async with running_fleet(fake_instance()) as fleet, httpx.AsyncClient() as client:
            response = await client.post(
                api(fleet.url("alpha"), "login"), json={"password": "alpha-password"}
            )
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json; charset=utf-8"
        body = response.json()
        assert list(body) == ["status", "description", "data"]
        assert (body["status"], body["description"]) == (100, "Login succeeded")
        assert isinstance(body["data"]["token"], str) and len(body["data"]["token"]) > 20

    async def test_other_api_version(self) -> None:
        async with running_fleet(fake_instance()) as fleet, httpx.AsyncClient() as client:
            response = await client.post(
                f"{fleet.url('alpha')}/api/v1/login", json={"password": "alpha-password"}
            )
        assert response.json() == {
            "status": 1000,
            "description": "This captain instance only accepts API v2",
            "data": {},
        }

    async def test_unknown_namespace_is_refused_everywhere(self) -> None:
        async with running_fleet(fake_instance()) as fleet, httpx.AsyncClient() as client:
            base = fleet.url("alpha")
            headers = {"x-namespace": "other"}
            for response in (
                await client.post(api(base, "login"), json={"password": "x"}, headers=headers),
                await client.get(api(base, "user/apps/appDefinitions"), headers=headers),
            ):
                assert response.json()["status"] == 1000
                assert response.json()["description"] == "Namespace unknown"

    async def test_paths_are_case_insensitive_with_optional_trailing_slash(self) -> None:
        async with running_fleet(fake_instance()) as fleet, httpx.AsyncClient() as client:
            base = fleet.url("alpha")
            token = await login(client, base, "alpha-password")
            for path in ("user/system/versionInfo", "user/system/versioninfo/", "USER/SYSTEM/INFO"):
                response = await client.get(api(base, path), headers=auth(token))
                assert response.json()["status"] == 100, path

    async def test_unknown_route_is_404_only_after_the_token_check(self) -> None:
        async with running_fleet(fake_instance()) as fleet, httpx.AsyncClient() as client:
            base = fleet.url("alpha")
            no_token = await client.get(api(base, "user/nothing/here"))
            assert no_token.status_code == 200
            assert no_token.json()["status"] == 1106
            token = await login(client, base, "alpha-password")
            with_token = await client.get(api(base, "user/nothing/here"), headers=auth(token))
            assert (with_token.status_code, with_token.text) == (404, "Not Found")
            wrong_method = await client.delete(
                api(base, "user/apps/appDefinitions"), headers=auth(token)
            )
            assert wrong_method.status_code == 404
            assert (await client.get(api(base, "login"))).status_code == 404

    async def test_malformed_json_is_http_500(self) -> None:
        async with running_fleet(fake_instance()) as fleet, httpx.AsyncClient() as client:
            response = await client.post(
                api(fleet.url("alpha"), "login"),
                content=b'{"password": ',
                headers={"content-type": "application/json"},
            )
        assert (response.status_code, response.text) == (500, "Internal Server Error")

    async def test_form_encoded_login_and_checkhealth(self) -> None:
        async with running_fleet(fake_instance()) as fleet, httpx.AsyncClient() as client:
            base = fleet.url("alpha")
            response = await client.post(api(base, "login"), data={"password": "alpha-password"})
            assert response.json()["status"] == 100
            health = await client.get(f"{base}/checkhealth")
            assert health.status_code == 200 and health.text

    async def test_keep_alive_serves_many_requests_on_one_connection(self) -> None:
        instance = fake_instance()
        async with running_fleet(instance) as fleet, httpx.AsyncClient() as client:
            base = fleet.url("alpha")
            token = await login(client, base, "alpha-password")
            for _ in range(20):
                await app_definitions(client, base, token)
        assert len(instance.requests) == 21

    async def test_listing_follows_in_place_changes(self) -> None:
        """The encoded listing is reused only while nothing in it changed, however it changed."""
        instance = fake_instance(apps=[fake_app("web", versions=2)])
        async with running_fleet(instance) as fleet, httpx.AsyncClient() as client:
            base = fleet.url("alpha")
            token = await login(client, base, "alpha-password")

            async def raw() -> bytes:
                response = await client.get(
                    api(base, "user/apps/appDefinitions"), headers=auth(token)
                )
                return response.content

            seen = [await raw()]
            assert await raw() == seen[0]
            app = instance.apps[0]
            changes: tuple[Callable[[], object], ...] = (
                lambda: app.versions[-1].update(gitHash="abc"),
                lambda: app.versions[-1].update(gitHash=1),
                lambda: app.versions[-1].update(gitHash=True),  # == 1, but JSON true
                lambda: app.versions[-1].update(gitHash=1.0),
                lambda: app.env_vars.append({"key": "K", "value": "v"}),
                lambda: app.env_vars[0].update(key="K2"),
                lambda: instance.state.building.update(web=True),
                lambda: setattr(instance, "version", "1.10.0"),
            )
            for change in changes:
                change()
                seen.append(await raw())
                assert seen[-1] != seen[-2]
        assert json.loads(seen[-1])["data"]["appDefinitions"][0]["isAppBuilding"] is True
        assert b'"gitHash": 1.0' in seen[-5]

    async def test_wire_edge_cases(self) -> None:
        """Pipelined requests are answered in order; bad or oversized heads end the connection."""

        async def exchange(port: int, data: bytes) -> bytes:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(data)
            answer = await asyncio.wait_for(reader.read(), 5)  # until the server hangs up
            writer.close()
            return answer

        async with running_fleet(fake_instance()) as fleet:
            port = fleet.server("alpha").port
            health = b"GET /checkhealth HTTP/1.1\r\n\r\n"
            pipelined = await exchange(
                port,
                health + b"GET /nowhere HTTP/1.1\r\n\r\n" + b"GET /checkhealth HTTP/1.0\r\n\r\n",
            )
            statuses = re.findall(rb"HTTP/1.1 (\d+) ", pipelined)
            assert statuses == [b"200", b"404", b"200"]
            assert pipelined.endswith(b"Connection: close\r\n\r\n" + HEALTH_UUID.encode())
            chunked = b"POST /api/v2/login HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
            assert (await exchange(port, chunked)).startswith(b"HTTP/1.1 400 Bad Request\r\n")
            assert (await exchange(port, b"NONSENSE\r\n\r\n")).startswith(b"HTTP/1.1 400 ")
            oversized = b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 70_000
            assert (await exchange(port, oversized)).startswith(b"HTTP/1.1 431 ")


class TestLogin:
    """The checks run in the real server's order; failures feed a 5-in-30-s back-off."""

    @pytest.mark.parametrize(
        ("version", "payload", "status", "description"),
        [
            ("1.15.3", {}, 1000, "password is empty."),
            ("1.15.3", {"password": ""}, 1000, "password is empty."),
            ("1.15.3", {"password": "x" * 30}, 1000, "password is too long"),
            ("1.14.1", {"password": "x" * 30}, 1000, "password is too long"),
            ("1.13.1", {"password": "x" * 30}, 1105, "Invalid credentials"),
            ("1.15.3", {"password": "wrong"}, 1105, "Invalid credentials"),
            ("1.10.4", {"password": "wrong"}, 1105, "Password is incorrect."),
        ],
    )
    async def test_checks(
        self, version: str, payload: dict[str, str], status: int, description: str
    ) -> None:
        instance = fake_instance(version=version)
        async with running_fleet(instance) as fleet, httpx.AsyncClient() as client:
            response = await client.post(api(fleet.url("alpha"), "login"), json=payload)
        body = response.json()
        assert body["status"] == status
        assert body["description"].startswith(description)

    async def test_otp(self) -> None:
        instance = fake_instance(otp_secret=OTP_SEED)
        async with running_fleet(instance) as fleet, httpx.AsyncClient() as client:
            url = api(fleet.url("alpha"), "login")

            async def attempt(**payload: str) -> tuple[int, str]:
                body = (await client.post(url, json=payload)).json()
                return body["status"], body["description"]

            assert await attempt(password="alpha-password") == (1114, "Enter OTP token as well")
            assert await attempt(password="wrong", otpToken="") == (1114, "Enter OTP token as well")
            good = totp_code(OTP_SEED)
            bad = f"{(int(good) + 1) % 1_000_000:06d}"
            assert await attempt(password="alpha-password", otpToken=bad) == (
                1105,
                "Invalid credentials",
            )
            assert (await attempt(password="wrong", otpToken=good))[0] == 1105
            assert (await attempt(password="alpha-password", otpToken=good))[0] == 100
            previous = totp_code(OTP_SEED, now=__import__("time").time() - 30)
            assert (await attempt(password="alpha-password", otpToken=previous))[0] == 100

    async def test_otp_is_ignored_before_1_11(self) -> None:
        instance = fake_instance(version="1.10.4", otp_secret=OTP_SEED)
        async with running_fleet(instance) as fleet, httpx.AsyncClient() as client:
            await login(client, fleet.url("alpha"), "alpha-password")

    async def test_back_off_locks_even_the_right_password_then_expires(self) -> None:
        instance = fake_instance(backoff_window_seconds=0.3)
        async with running_fleet(instance) as fleet, httpx.AsyncClient() as client:
            url = api(fleet.url("alpha"), "login")
            for _ in range(5):
                assert (await client.post(url, json={"password": "no"})).json()["status"] == 1105
            locked = (await client.post(url, json={"password": "alpha-password"})).json()
            assert locked["status"] == 1113
            assert locked["description"] == (
                "Too many wrong passwords... Wait for 30 seconds and retry."
            )
            # Earlier checks still win over the back-off.
            assert (await client.post(url, json={"password": ""})).json()["status"] == 1000
            await asyncio.sleep(0.35)
            assert (await client.post(url, json={"password": "alpha-password"})).json()[
                "status"
            ] == 100

    async def test_wrong_otp_counts_toward_back_off_and_1114_comes_first(self) -> None:
        instance = fake_instance(otp_secret=OTP_SEED)
        async with running_fleet(instance) as fleet, httpx.AsyncClient() as client:
            url = api(fleet.url("alpha"), "login")
            for _ in range(5):
                body = (
                    await client.post(url, json={"password": "a", "otpToken": "000000x"})
                ).json()
                assert body["status"] == 1105
            missing_otp = (await client.post(url, json={"password": "alpha-password"})).json()
            assert missing_otp["status"] == 1114
            good = {"password": "alpha-password", "otpToken": totp_code(OTP_SEED)}
            assert (await client.post(url, json=good)).json()["status"] == 1113

    async def test_four_failures_do_not_lock(self) -> None:
        instance = fake_instance()
        async with running_fleet(instance) as fleet, httpx.AsyncClient() as client:
            url = api(fleet.url("alpha"), "login")
            for _ in range(4):
                await client.post(url, json={"password": "no"})
            await login(client, fleet.url("alpha"), "alpha-password")


class TestTokens:
    """Missing or garbage tokens are corrupted; a restart makes old tokens stale."""

    async def test_token_errors_and_restart(self) -> None:
        instance = fake_instance()
        async with running_fleet(instance) as fleet, httpx.AsyncClient() as client:
            base = fleet.url("alpha")
            url = api(base, "user/apps/appDefinitions")
            for headers in ({}, {"x-captain-auth": "garbage"}):
                body = (await client.get(url, headers=headers)).json()
                assert (body["status"], body["description"]) == (1106, "Auth token corrupted")
            token = await login(client, base, "alpha-password")
            assert (await client.get(url, headers=auth(token))).json()["status"] == 100
            instance.restart()
            stale = (await client.get(url, headers=auth(token))).json()
            assert stale == {
                "status": 1106,
                "description": "Auth token is no longer valid. Request for a new auth token",
                "data": {},
            }
            fresh = await login(client, base, "alpha-password")
            assert (await client.get(url, headers=auth(fresh))).json()["status"] == 100


class TestLock:
    """One non-GET under /user at a time per server; others get HTTP 429, GETs are free."""

    async def test_429_while_a_non_get_is_in_flight(self) -> None:
        instance = fake_instance(apps=["web", "worker"])
        instance.hold_builds()  # the attached deploy holds the lock until its build ends
        async with running_fleet(instance) as fleet, httpx.AsyncClient() as client:
            base = fleet.url("alpha")
            token = await login(client, base, "alpha-password")
            attached = asyncio.create_task(
                deploy(client, base, token, "web", "example/web:2.0", detached=False)
            )
            await instance.wait_until(lambda: instance.held_builds() == ["web"])
            blocked = await deploy(client, base, token, "worker", "example/worker:2.0")
            assert blocked.status_code == 429
            assert blocked.headers["content-type"].startswith("text/html")
            assert blocked.text == "Another operation still in progress... please wait..."
            update = await client.post(
                api(base, "user/system/versionInfo"),
                json={"latestVersion": "1.15.4"},
                headers=auth(token),
            )
            assert update.status_code == 429
            assert (await client.get(api(base, "user/system/info"), headers=auth(token))).json()[
                "status"
            ] == 100
            # Login is outside /user: never locked.
            await login(client, base, "alpha-password")
            instance.release_builds()
            done = await attached
            assert done.json() == {"status": 100, "description": "Deploy is done", "data": {}}
            after = await deploy(client, base, token, "worker", "example/worker:2.0")
            assert after.json()["status"] == 101

    async def test_detached_deploy_releases_the_lock_at_once(self) -> None:
        instance = fake_instance(apps=["a", "b", "c"])
        instance.hold_builds()  # a's build runs throughout
        async with running_fleet(instance) as fleet, httpx.AsyncClient() as client:
            base = fleet.url("alpha")
            token = await login(client, base, "alpha-password")
            for app in ("a", "b", "c"):
                response = await deploy(client, base, token, app, f"example/{app}:2")
                assert response.json() == {
                    "status": 101,
                    "description": "Deploy is started",
                    "data": {},
                }
            assert instance.state.building == {"a": True, "b": True, "c": True}
            instance.release_builds()
            await instance.wait_until(lambda: builds_settled(instance))


class TestDeploy:
    """Deploy by image name: validation, version entries, the queue, logs and failures."""

    async def test_successful_deploy_updates_version_and_image(self) -> None:
        instance = fake_instance(apps=[fake_app("web", versions=3)])
        instance.hold_builds()  # until the client has seen it building
        async with running_fleet(instance) as fleet, httpx.AsyncClient() as client:
            base = fleet.url("alpha")
            token = await login(client, base, "alpha-password")
            assert (await deploy(client, base, token, "web", "example/web:2.0")).json()[
                "status"
            ] == 101
            first = await build_status(client, base, token, "web")
            assert first["isAppBuilding"] is True
            instance.release_builds()
            await instance.wait_until(
                lambda: not instance.state.building.get("web") and builds_settled(instance)
            )
            status = await build_status(client, base, token, "web")
            app = (await app_definitions(client, base, token))["web"]
        assert status["isAppBuilding"] is False and status["isBuildFailed"] is False
        lines = [line for line in status["logs"]["lines"] if line]
        assert lines[0].startswith("------------------------- ")
        assert lines[1:] == [
            "Build started for web",
            (
                "An explicit image name was provided (example/web:2.0). "
                "Therefore, no build process is needed."
            ),
            "Pulling this image: example/web:2.0 This process might take a few minutes.",
            "Build has finished successfully!",
        ]
        assert status["logs"]["firstLineNumber"] == len(lines) - 50
        assert app["deployedVersion"] == 3
        newest = app["versions"][-1]
        assert newest["version"] == 3
        assert newest["deployedImageName"] == "example/web:2.0"
        assert newest["gitHash"] == ""
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", newest["timeStamp"])

    @pytest.mark.parametrize(
        ("versions", "expected_number", "expected_length", "first_kept"),
        [
            ([0, 1, 2], 3, 4, 0),
            ([0, 5], 6, 3, 0),
            (list(range(50)), 50, 50, 1),
            (list(range(10, 60)), 60, 50, 11),
        ],
    )
    async def test_version_numbering_and_history_cap(
        self, versions: list[int], expected_number: int, expected_length: int, first_kept: int
    ) -> None:
        app = fake_app("web")
        app.versions = [
            {"version": n, "timeStamp": "2026-01-01T00:00:00.000Z", "deployedImageName": "x:1"}
            for n in versions
        ]
        app.deployed_version = versions[-1]
        instance = fake_instance(apps=[app])
        async with running_fleet(instance) as fleet, httpx.AsyncClient() as client:
            base = fleet.url("alpha")
            token = await login(client, base, "alpha-password")
            await deploy(client, base, token, "web", "example/web:2.0")
            await instance.wait_until(lambda: builds_settled(instance))
            listed = (await app_definitions(client, base, token))["web"]
        assert listed["versions"][-1]["version"] == expected_number
        assert listed["deployedVersion"] == expected_number
        assert len(listed["versions"]) == expected_length
        assert listed["versions"][0]["version"] == first_kept

    async def test_pull_failure_keeps_the_deployed_version(self) -> None:
        instance = fake_instance(
            apps=[fake_app("web", "example/web:1.0", versions=2), "api"],
            failing_images={"example/api:*"},
        )
        async with running_fleet(instance) as fleet, httpx.AsyncClient() as client:
            base = fleet.url("alpha")
            token = await login(client, base, "alpha-password")
            await deploy(client, base, token, "web", "example/web:missing-tag")
            await deploy(client, base, token, "api", "example/api:9")
            await instance.wait_until(lambda: builds_settled(instance))
            statuses = [await build_status(client, base, token, a) for a in ("web", "api")]
            apps = await app_definitions(client, base, token)
        for status in statuses:
            assert status["isAppBuilding"] is False and status["isBuildFailed"] is True
            lines = [line for line in status["logs"]["lines"] if line]
            assert lines[-4:-1] == ["Build has failed!", "----------------------", "Deploy failed!"]
            assert lines[-1].startswith("Error: (HTTP code 404)")
        assert apps["web"]["deployedVersion"] == 1
        assert apps["web"]["versions"][-1] == {
            "version": 2,
            "timeStamp": apps["web"]["versions"][-1]["timeStamp"],
        }
        assert apps["api"]["deployedVersion"] == 0 and len(apps["api"]["versions"]) == 2

    @pytest.mark.parametrize(
        ("content", "message"),
        [
            ('{"imageName": "a/b:1"}', "Captain Definition version is empty!"),
            (
                '{"schemaVersion": 1, "imageName": "a/b:1"}',
                (
                    "Captain Definition version is not supported! "
                    "Read migration guides to schemaVersion 2"
                ),
            ),
            (
                '{"schemaVersion": 2, "imageName": "a/b:1", "dockerfileLines": ["FROM x"]}',
                (
                    "One, and only one, of these properties should be present in "
                    "captain-definition: templateId, imageName, dockerfilePath, or, dockerfileLines"
                ),
            ),
            ('{"schemaVersion": 2}', "One, and only one"),
            ({"schemaVersion": 2, "imageName": "a/b:1"}, "SyntaxError"),
            ("not json", "SyntaxError"),
        ],
    )
    async def test_bad_definitions_fail_through_the_build_log(
        self, content: Any, message: str
    ) -> None:
        instance = fake_instance(apps=["web"])
        async with running_fleet(instance) as fleet, httpx.AsyncClient() as client:
            base = fleet.url("alpha")
            token = await login(client, base, "alpha-password")
            response = await client.post(
                api(base, "user/apps/appData/web?detached=1"),
                json={"captainDefinitionContent": content, "gitHash": ""},
                headers=auth(token),
            )
            assert response.json()["status"] == 101
            await instance.wait_until(lambda: builds_settled(instance))
            status = await build_status(client, base, token, "web")
            app = (await app_definitions(client, base, token))["web"]
        assert status["isBuildFailed"] is True
        lines = [line for line in status["logs"]["lines"] if line]
        assert lines[-3:-1] == ["----------------------", "Deploy failed!"]
        assert lines[-1].startswith(message)
        assert "Build has failed!" not in lines
        assert len(app["versions"]) == 2 and app["deployedVersion"] == 0

    async def test_attached_errors(self) -> None:
        instance = fake_instance(apps=["web"])
        async with running_fleet(instance) as fleet, httpx.AsyncClient() as client:
            base = fleet.url("alpha")
            token = await login(client, base, "alpha-password")
            url = api(base, "user/apps/appData/web")
            invalid = await client.post(
                url,
                json={"captainDefinitionContent": '{"schemaVersion": 3, "imageName": "a"}'},
                headers=auth(token),
            )
            assert invalid.json()["status"] == 1000
            missing = await deploy(client, base, token, "web", "a/b:missing", detached=False)
            assert (missing.status_code, missing.text) == (500, "Internal Server Error")

    async def test_detached_query_values(self) -> None:
        instance = fake_instance(apps=["web"])
        async with running_fleet(instance) as fleet, httpx.AsyncClient() as client:
            base = fleet.url("alpha")
            token = await login(client, base, "alpha-password")
            body = {
                "captainDefinitionContent": json.dumps({"schemaVersion": 2, "imageName": "a:1"})
            }
            for query, status in (
                ("?detached=0", 101),
                ("?detached=false", 101),
                ("?detached=", 100),
            ):
                url = api(base, "user/apps/appData/web") + query
                response = await client.post(url, json=body, headers=auth(token))
                assert response.json()["status"] == status, query
                await instance.wait_until(lambda: builds_settled(instance))

    @pytest.mark.parametrize(
        ("version", "text"),
        [
            (
                "1.15.3",
                (
                    "Either uploadedTarPathSource or captainDefinitionContent should be "
                    "provided, but not both."
                ),
            ),
            ("1.14.1", "Either tarballfile or captainDefinitionContent should be present."),
        ],
    )
    async def test_missing_definition_and_unknown_app(self, version: str, text: str) -> None:
        instance = fake_instance(version=version, apps=["web"])
        async with running_fleet(instance) as fleet, httpx.AsyncClient() as client:
            base = fleet.url("alpha")
            token = await login(client, base, "alpha-password")
            response = await client.post(
                api(base, "user/apps/appData/web?detached=1"),
                json={"gitHash": ""},
                headers=auth(token),
            )
            assert response.json() == {"status": 1108, "description": text, "data": {}}
            unknown = await deploy(client, base, token, "nope", "a/b:1")
            assert unknown.json()["description"] == (
                "App (nope) could not be found. Make sure that you have created the app."
            )
            assert unknown.json()["status"] == 1000
            window = await build_status(client, base, token, "nope")
            assert window == {
                "isAppBuilding": False,
                "logs": {"lines": [""] * 50, "firstLineNumber": -50},
                "isBuildFailed": False,
            }
            assert instance.app("web") is not None
            assert len(instance.app("web").versions) == 1  # type: ignore[union-attr]

    async def test_service_update_failure_shows_after_building_went_false(self) -> None:
        instance = fake_instance(
            apps=[fake_app("web", versions=2)],
            service_update_seconds=0.3,
            service_update_failing_images={"example/web:bad"},
        )
        async with running_fleet(instance) as fleet, httpx.AsyncClient() as client:
            base = fleet.url("alpha")
            token = await login(client, base, "alpha-password")
            await deploy(client, base, token, "web", "example/web:bad")
            await instance.wait_until(lambda: not instance.state.building.get("web"))
            first = await build_status(client, base, token, "web")
            # The race: the build looks fine at first, the service update is still to come.
            assert first["isAppBuilding"] is False and first["isBuildFailed"] is False
            app = (await app_definitions(client, base, token))["web"]
            assert app["deployedVersion"] == 2
            assert app["versions"][-1]["deployedImageName"] == "example/web:bad"
            await instance.wait_until(lambda: builds_settled(instance))
            late = await build_status(client, base, token, "web")
        assert late["isAppBuilding"] is False and late["isBuildFailed"] is True
        assert [line for line in late["logs"]["lines"] if line][-2] == "Deploy failed!"


class TestBuildQueue:
    """One build at a time per server, FIFO across apps, queued apps report building."""

    async def test_fifo_one_at_a_time(self) -> None:
        instance = fake_instance(apps=["a", "b", "c"], service_update_seconds=0)
        instance.hold_builds()
        async with running_fleet(instance) as fleet, httpx.AsyncClient() as client:
            base = fleet.url("alpha")
            token = await login(client, base, "alpha-password")
            for app in ("a", "b", "c"):
                await deploy(client, base, token, app, f"example/{app}:2")
            queued = await build_status(client, base, token, "c")
            assert queued["isAppBuilding"] is True
            assert [line for line in queued["logs"]["lines"] if line] == [
                "An active build (a) is in progress. This build is queued..."
            ]

            def apps_whose_log_has(line: str) -> list[str]:
                return [
                    app for app in "abc" if line.format(app) in instance.state.log_of(app).lines
                ]

            def held_alone(app: str) -> Callable[[], bool]:
                return lambda: instance.held_builds() == [app]

            for position, app in enumerate("abc"):
                await instance.wait_until(held_alone(app))
                # The builds before this one have ended, the ones after it have not started.
                assert apps_whose_log_has("Build started for {}") == list("abc"[: position + 1])
                assert apps_whose_log_has("Build has finished successfully!") == list(
                    "abc"[:position]
                )
                instance.release_builds()  # this build only: the next one is held again
                instance.hold_builds()
            instance.release_builds()
            await instance.wait_until(lambda: builds_settled(instance))
        stamps = [instance.app(a).versions[-1]["timeStamp"] for a in "abc"]  # type: ignore[union-attr]
        assert stamps == sorted(stamps)

    async def test_queued_deploy_of_the_same_app_is_replaced(self) -> None:
        instance = fake_instance(apps=["a", "b"], service_update_seconds=0)
        instance.hold_builds()  # b's deploys both arrive while a builds
        async with running_fleet(instance) as fleet, httpx.AsyncClient() as client:
            base = fleet.url("alpha")
            token = await login(client, base, "alpha-password")
            await deploy(client, base, token, "a", "example/a:2")
            await deploy(client, base, token, "b", "example/b:2")
            await deploy(client, base, token, "b", "example/b:3")
            status = await build_status(client, base, token, "b")
            assert [line for line in status["logs"]["lines"] if line] == [
                "A build for b was queued, it's now being replaced with a new build..."
            ]
            instance.release_builds()
            await instance.wait_until(
                lambda: not any(instance.state.building.values()) and builds_settled(instance)
            )
        b = instance.app("b")
        assert b is not None
        assert len(b.versions) == 2 and b.deployed_image == "example/b:3"
        assert instance.deploy_requests() == [
            ("a", "example/a:2"),
            ("b", "example/b:2"),
            ("b", "example/b:3"),
        ]


def test_build_log_keeps_the_last_fifty_lines() -> None:
    log = BuildLog()
    assert log.window() == {"lines": [""] * 50, "firstLineNumber": -50}
    for number in range(60):
        log.log(f"line {number}")
    window = log.window()
    assert len(window["lines"]) == 50
    assert window["lines"][0] == "line 10" and window["lines"][-1] == "line 59"
    assert window["firstLineNumber"] == 10
    log.clear()
    assert log.window()["firstLineNumber"] == -50


class TestSelfUpdate:
    """Self-update: pull, answer, go down, not ready, then a new version with stale tokens."""

    async def _update(self, client: httpx.AsyncClient, base: str, token: str) -> httpx.Response:
        return await client.post(
            api(base, "user/system/versionInfo"),
            json={"latestVersion": "1.15.4"},
            headers=auth(token),
        )

    @pytest.mark.parametrize("mode", ["refuse", "502"])
    async def test_phases(self, mode: str) -> None:
        instance = fake_instance(
            version="1.15.3", latest_version="1.15.4", restart_mode=mode, apps=["web"]
        )
        async with running_fleet(instance) as fleet, httpx.AsyncClient() as client:
            base = fleet.url("alpha")
            token = await login(client, base, "alpha-password")
            info = (
                await client.get(api(base, "user/system/versionInfo"), headers=auth(token))
            ).json()
            assert info["description"] == "Version Info Retrieved"
            assert info["data"]["currentVersion"] == "1.15.3"
            assert info["data"]["latestVersion"] == "1.15.4"
            assert info["data"]["canUpdate"] is True
            for _ in range(5):
                await client.post(api(base, "login"), json={"password": "wrong"})
            await deploy(client, base, token, "web", "example/web:2")
            started = await self._update(client, base, token)
            assert started.json() == {
                "status": 100,
                "description": "Captain update process has started...",
                "data": {},
            }
            observed: list[str] = []

            async def back_up() -> bool:
                try:
                    response = await client.get(
                        api(base, "user/system/versionInfo"), headers=auth(token)
                    )
                except httpx.TransportError:
                    phase = "refused"
                else:
                    if response.status_code == 502:
                        assert "502 Bad Gateway" in response.text
                        phase = "502"
                    else:
                        body = response.json()
                        phase = f"{body['status']} {body['description']}"
                if not observed or observed[-1] != phase:
                    observed.append(phase)
                return phase.startswith("1106")

            await eventually(back_up)
            assert observed == [
                "refused" if mode == "refuse" else "502",
                "1001 Captain is not ready yet...",
                "1106 Auth token is no longer valid. Request for a new auth token",
            ]
            # The back-off was lost with the restart, so the right password works again.
            fresh = await login(client, base, "alpha-password")
            info = (
                await client.get(api(base, "user/system/versionInfo"), headers=auth(fresh))
            ).json()
            assert info["data"]["currentVersion"] == "1.15.4"
            assert info["data"]["canUpdate"] is False
            status = await build_status(client, base, fresh, "web")
            assert status["logs"]["lines"] == [""] * 50
        assert instance.update_requests() == ["1.15.4"]

    async def test_update_failure_is_http_500_and_nothing_changes(self) -> None:
        instance = fake_instance(latest_version="1.15.4", update_fails=True)
        async with running_fleet(instance) as fleet, httpx.AsyncClient() as client:
            base = fleet.url("alpha")
            token = await login(client, base, "alpha-password")
            response = await self._update(client, base, token)
            assert (response.status_code, response.text) == (500, "Internal Server Error")
            info = (
                await client.get(api(base, "user/system/versionInfo"), headers=auth(token))
            ).json()
        assert info["data"]["currentVersion"] == "1.15.3"

    async def test_never_returns(self) -> None:
        instance = fake_instance(latest_version="1.15.4", never_returns=True)
        async with running_fleet(instance) as fleet, httpx.AsyncClient() as client:
            base = fleet.url("alpha")
            token = await login(client, base, "alpha-password")
            assert (await self._update(client, base, token)).json()["status"] == 100
            await asyncio.sleep(instance.restart_seconds + instance.not_ready_seconds + 0.1)
            with pytest.raises(httpx.ConnectError):
                await client.get(f"{base}/checkhealth")

    async def test_version_check_failure_looks_like_no_update(self) -> None:
        instance = fake_instance(latest_version="1.15.4", version_check_fails=True)
        async with running_fleet(instance) as fleet, httpx.AsyncClient() as client:
            base = fleet.url("alpha")
            token = await login(client, base, "alpha-password")
            info = (
                await client.get(api(base, "user/system/versionInfo"), headers=auth(token))
            ).json()
        assert info["data"] == {
            "currentVersion": "1.15.3",
            "latestVersion": "1.15.3",
            "changeLogMessage": "",
            "canUpdate": False,
        }


class TestFaults:
    """Each fault breaks every route in its own way, so clients can be tested against it."""

    async def _get(self, fault: str, read_timeout: float = 5.0, **options: Any) -> httpx.Response:
        instance = fake_instance(fault=fault, **options)
        timeout = httpx.Timeout(5.0, read=read_timeout)
        async with running_fleet(instance) as fleet, httpx.AsyncClient(timeout=timeout) as client:
            return await client.post(api(fleet.url("alpha"), "login"), json={"password": "x"})

    async def test_html(self) -> None:
        response = await self._get("html")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        assert response.text.startswith("<!DOCTYPE html>")

    async def test_not_json(self) -> None:
        response = await self._get("not_json")
        with pytest.raises(ValueError):
            response.json()

    async def test_empty(self) -> None:
        response = await self._get("empty")
        assert (response.status_code, response.content) == (200, b"")

    async def test_http500(self) -> None:
        assert (await self._get("http500")).status_code == 500

    async def test_truncated(self) -> None:
        with pytest.raises(httpx.RemoteProtocolError):
            await self._get("truncated")

    async def test_redirects(self) -> None:
        other = await self._get("redirect_other_host")
        assert other.status_code == 302
        assert other.headers["location"] == "http://evil.invalid/api/v2/login"
        plain = await self._get("redirect_to_http")
        assert plain.status_code == 302
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/api/v2/login", plain.headers["location"])

    async def test_slow_answers_late_but_right(self) -> None:
        assert (await self._get("slow", slow_seconds=0.1)).json()["status"] == 1105
        with pytest.raises(httpx.ReadTimeout):
            await self._get("slow", slow_seconds=1.0, read_timeout=0.1)

    async def test_drip_sends_a_valid_body(self) -> None:
        response = await self._get("drip")
        assert response.json()["status"] == 1105

    async def test_silent_never_answers(self) -> None:
        with pytest.raises(httpx.ReadTimeout):
            await self._get("silent", read_timeout=0.1)

    async def test_huge_is_streamed(self) -> None:
        instance = fake_instance(fault="huge", huge_bytes=3 * 1024 * 1024 + 7)
        received = 0
        async with (
            running_fleet(instance) as fleet,
            httpx.AsyncClient() as client,
            client.stream("GET", f"{fleet.url('alpha')}/checkhealth") as response,
        ):
            assert int(response.headers["content-length"]) == 3 * 1024 * 1024 + 7
            async for chunk in response.aiter_raw():
                received += len(chunk)
        assert received == 3 * 1024 * 1024 + 7

    async def test_unreachable_refuses_and_can_come_back(self) -> None:
        instance = fake_instance(fault="unreachable")
        async with running_fleet(instance) as fleet, httpx.AsyncClient() as client:
            base = fleet.url("alpha")
            with pytest.raises(httpx.ConnectError):
                await client.get(f"{base}/checkhealth")
            instance.fault = None
            await fleet.bring_up("alpha")
            assert (await client.get(f"{base}/checkhealth")).status_code == 200
            await fleet.take_down("alpha")
            with pytest.raises(httpx.ConnectError):
                await client.get(f"{base}/checkhealth")

    async def test_fault_can_be_switched_at_runtime_and_latency_applies(self) -> None:
        instance = fake_instance(latency_seconds=0.05)
        async with running_fleet(instance) as fleet, httpx.AsyncClient() as client:
            base = fleet.url("alpha")
            token = await login(client, base, "alpha-password")
            instance.fault = "http500"
            assert (
                await client.get(api(base, "user/system/info"), headers=auth(token))
            ).status_code == 500
            instance.fault = None
            assert (
                await client.get(api(base, "user/system/info"), headers=auth(token))
            ).status_code == 200
        arrivals = [request.at for request in instance.requests]
        assert arrivals == sorted(arrivals)

    async def test_latency_is_added_to_every_request(self) -> None:
        instance = fake_instance(latency_seconds=0.2)
        async with running_fleet(instance) as fleet, httpx.AsyncClient() as client:
            base = fleet.url("alpha")
            await client.get(f"{base}/checkhealth")  # the connection is made before timing
            for _ in range(2):  # on a kept-alive connection too: per request, not per connection
                start = time.monotonic()
                await client.get(f"{base}/checkhealth")
                assert time.monotonic() - start >= 0.2


class TestRecord:
    """The record keeps what the fake received, never a password, OTP or header."""

    async def test_record_masks_secrets(self) -> None:
        instance = fake_instance(otp_secret=OTP_SEED, apps=["web"])
        async with running_fleet(instance) as fleet, httpx.AsyncClient() as client:
            base = fleet.url("alpha")
            await client.post(api(base, "login"), json={"password": "alpha-password"})
            token = await login(client, base, "alpha-password", totp_code(OTP_SEED))
            await deploy(client, base, token, "web", "example/web:7")
            await client.post(
                api(base, "user/system/versionInfo"),
                json={"latestVersion": "1.15.9"},
                headers=auth(token),
            )
        assert instance.login_attempts() == 2
        assert instance.requests[0].body == {"password": "***"}
        assert instance.requests[1].body == {"password": "***", "otpToken": "***"}
        assert instance.deploy_requests() == [("web", "example/web:7")]
        assert instance.update_requests() == ["1.15.9"]
        dump = repr(instance.requests) + repr(instance)
        assert "alpha-password" not in dump and token not in dump
        assert not hasattr(instance.requests[0], "headers")


class TestTlsAndThread:
    async def test_tls(self) -> None:
        trustme = pytest.importorskip("trustme")
        authority = trustme.CA()
        server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        authority.issue_cert("127.0.0.1").configure_cert(server_context)
        client_context = ssl.create_default_context()
        authority.configure_trust(client_context)
        instance = fake_instance()
        async with running_fleet(instance, ssl_context=server_context) as fleet:
            assert fleet.url("alpha").startswith("https://127.0.0.1:")
            async with httpx.AsyncClient(verify=client_context) as client:
                await login(client, fleet.url("alpha"), "alpha-password")
            async with httpx.AsyncClient() as untrusting:
                with pytest.raises(httpx.ConnectError):
                    await untrusting.get(f"{fleet.url('alpha')}/checkhealth")

    def test_thread_fleet_for_sync_code(self) -> None:
        instance = fake_instance()
        with FakeFleetThread([instance, fake_instance("beta", "beta-password")]) as fleet:
            assert set(fleet.urls()) == {"alpha", "beta"}
            with httpx.Client() as client:
                url = api(fleet.url("alpha"), "login")
                token = client.post(url, json={"password": "alpha-password"}).json()["data"][
                    "token"
                ]
                fleet.call(instance.restart)
                stale = client.get(
                    api(fleet.url("alpha"), "user/apps/appDefinitions"), headers=auth(token)
                ).json()
                assert stale["status"] == 1106
                fleet.take_down("beta")
                with pytest.raises(httpx.ConnectError):
                    client.get(f"{fleet.url('beta')}/checkhealth")
                assert fleet.call(lambda: 41 + 1) == 42

    def test_module_entry_point(self) -> None:
        process = subprocess.Popen(
            [sys.executable, "-m", "gc_tui.demo.fake_caprover", "--synthetic", "3", "--apps", "4"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert process.stdout is not None and process.stdin is not None
            line = process.stdout.readline()
            assert line.startswith("READY ")
            urls = json.loads(line.removeprefix("READY "))
            assert list(urls) == ["gc-0000", "gc-0001", "gc-0002"]
            with httpx.Client() as client:
                for url in urls.values():
                    assert client.get(f"{url}/checkhealth").status_code == 200
            process.stdin.close()
            assert process.wait(timeout=30) == 0
        finally:
            if process.poll() is None:
                process.kill()


class TestDemoFleet:
    """The packaged demo fleet has the README's 12 instances and 146 apps and scenarios."""

    def test_shape_and_images(self) -> None:
        data = demo_fleet_data()
        instances = demo_instances()
        assert len(instances) == 12
        assert sum(len(i.apps) for i in instances) == 146
        for spec, instance in zip(data["instances"], instances, strict=True):
            assert instance.name == spec["name"]
            assert instance.version == spec["caprover_version"]
            for app_spec, app in zip(spec["apps"], instance.apps, strict=True):
                assert app.name == app_spec["appName"]
                assert app.deployed_image == app_spec["image"]
                assert len(app.versions) == app_spec["versions_count"]
                assert app.deployed_version == app_spec["versions_count"] - 1
                if len(app.versions) > 1:
                    assert app.versions[-2].get("deployedImageName")

    def test_rollback_targets_are_plausible(self) -> None:
        by_name = {i.name: i for i in demo_instances()}
        explorer = by_name["bluecanyon"].app("explorer")
        assert explorer is not None
        previous = explorer.versions[-2]["deployedImageName"]
        assert previous.startswith("communityfirst/guardianconnector-explorer:")
        assert previous != explorer.deployed_image
        worker = by_name["emberfalls"].app("superset-worker")
        assert worker is not None
        assert [v["deployedImageName"] for v in worker.versions] == [
            f"img-captain-superset-worker:{n}" for n in range(3)
        ]
        assert older_image("ghcr.io/windmill-labs/windmill:1.775.2", 3) == (
            "ghcr.io/windmill-labs/windmill:1.774.0"
        )
        assert older_image("postgres:17", 2) == "postgres:17"

    async def test_scenarios_over_http(self) -> None:
        instances = demo_instances(build_seconds=0.05, service_update_seconds=0.05)
        data = demo_fleet_data()
        passwords = {spec["name"]: spec["password"] for spec in data["instances"]}
        async with running_fleet(*instances) as fleet, httpx.AsyncClient() as client:
            with pytest.raises(httpx.ConnectError):
                await client.get(f"{fleet.url('fernridge')}/checkhealth")
            wrong = await client.post(
                api(fleet.url("graniteflats"), "login"),
                json={"password": passwords["graniteflats"]},
            )
            assert wrong.json()["status"] == 1105
            token = await login(client, fleet.url("emberfalls"), passwords["emberfalls"])
            ember = await app_definitions(client, fleet.url("emberfalls"), token)
            raw = (
                await client.get(
                    api(fleet.url("emberfalls"), "user/apps/appDefinitions"), headers=auth(token)
                )
            ).text
            info = (
                await client.get(
                    api(fleet.url("emberfalls"), "user/system/versionInfo"), headers=auth(token)
                )
            ).json()["data"]
            token = await login(client, fleet.url("bluecanyon"), passwords["bluecanyon"])
            blue = await app_definitions(client, fleet.url("bluecanyon"), token)
        assert "isLegacyAppName" not in ember["redis"] and ember["redis"]["projectId"] == ""
        assert ember["superset"]["tags"] == [{"tagName": "superset"}]
        assert "demo-db-emberfalls-S3cr3t" in raw  # env values come back in clear
        assert info["canUpdate"] is True and info["latestVersion"] == "1.15.3"
        assert blue["superset-worker"]["projectId"] == blue["superset"]["projectId"] != ""
        assert blue["windmill"]["tags"] == [{"tagName": "windmill"}]
        assert isinstance(blue["explorer"]["isLegacyAppName"], bool)
        targets = data["target_images"]
        differing = [
            name
            for name, app in blue.items()
            if name in targets
            and next(
                v["deployedImageName"]
                for v in app["versions"]
                if v["version"] == app["deployedVersion"]
            )
            != targets[name]
        ]
        assert len(differing) == 8

    def test_vault(self, tmp_path: Path) -> None:
        from pykeepass import PyKeePass  # type: ignore[import-untyped]

        urls = {i.name: f"http://127.0.0.1:{9000 + n}" for n, i in enumerate(demo_instances())}
        entries = demo_vault_entries(urls)
        path = tmp_path / "demo.kdbx"
        write_demo_vault(path, entries, "demo-master")
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        keepass = PyKeePass(str(path), password="demo-master")
        group = keepass.find_groups(name="CapRover", first=True)
        titles = sorted(entry.title for entry in group.entries)
        assert titles == sorted(urls)
        graniteflats = next(e for e in group.entries if e.title == "graniteflats")
        assert graniteflats.password == "graniteflats-demo-Md6j4e"
        assert graniteflats.url == urls["graniteflats"]
        assert [e.title for e in keepass.recyclebin_group.entries] == ["retired-server"]
        assert len(keepass.entries) == 14


class TestSyntheticFleet:
    def test_shape_and_determinism(self) -> None:
        fleet = synthetic_fleet(200, 12, seed=3)
        assert len(fleet) == 200 and all(len(i.apps) == 12 for i in fleet)
        again = synthetic_fleet(200, 12, seed=3)
        assert [a.deployed_image for a in fleet[7].apps] == [
            a.deployed_image for a in again[7].apps
        ]
        assert fleet[7].password == again[7].password
        for instance in fleet:
            superset = [a for a in instance.apps if "superset" in a.tags]
            assert [a.name for a in superset] == [
                "superset",
                "superset-worker",
                "superset-init-and-beat",
            ]
            assert len({a.deployed_image for a in superset}) == 1
            on_115 = instance.version.startswith("1.15")
            assert all(bool(a.project_id) == on_115 for a in superset)
        assert len(synthetic_fleet(2, 15)[0].apps) == 15
        assert isinstance(synthetic_fleet(1, 1)[0].apps[0], FakeApp)


def test_a_misspelt_fault_fails_at_construction() -> None:
    with pytest.raises(ValueError):
        fake_instance(fault="wrong_password")
