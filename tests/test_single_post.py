"""A request that changes a CapRover server reaches it at most once: a server, or a proxy in
between, that reads the request and hangs up gets it once, and the operator is told it may
have arrived. Counts are the scripted server's own."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from gc_tui.core.caprover import BadResponse, CapRoverClient, Unreachable
from gc_tui.core.http import HttpSettings
from gc_tui.core.model import Instance
from gc_tui.core.secret import Secret
from gc_tui.core.session import FleetSession
from tests.rawhttp import LOGIN_OK, ServerRecord, envelope, raw_server, read_request

SETTINGS = HttpSettings(connect_timeout=3, read_timeout=3, request_deadline=3)
APPS = envelope(100, "App definitions are retrieved.", {"appDefinitions": []})
DEPLOY_STARTED = envelope(101, "Deploy is started")


def caprover_that_drops(dropped_path: str) -> Callable[..., Awaitable[None]]:
    """Answers login and reads like CapRover; reads ``dropped_path`` whole, then hangs up."""

    async def handler(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, record: ServerRecord
    ) -> None:
        while (request := await read_request(reader)) is not None:
            record.requests.append(request)
            if dropped_path in request.target:
                return
            if request.target.endswith("/login"):
                writer.write(LOGIN_OK)
            elif request.method == "POST":
                writer.write(DEPLOY_STARTED)
            else:
                writer.write(APPS)
            await writer.drain()

    return handler


async def with_idle_connections(client: CapRoverClient) -> None:
    """Log in, then leave several idle pooled connections, as after an audit."""
    await client.login()
    await asyncio.gather(*(client.app_definitions() for _ in range(4)))


class TestAtMostOnce:
    @pytest.mark.parametrize(
        ("path", "act"),
        [
            ("/user/apps/appData/explorer", lambda c: c.deploy_image("explorer", "repo/x:2")),
            ("/user/system/versionInfo", lambda c: c.start_caprover_update("1.15.3")),
        ],
        ids=["deploy", "caprover-update"],
    )
    async def test_a_write_the_server_drops_is_sent_once(
        self, path: str, act: Callable[[CapRoverClient], Awaitable[object]]
    ) -> None:
        async with raw_server(caprover_that_drops(path)) as (url, record):
            instance = Instance("acme", url, Secret("pw"))
            async with FleetSession([instance], SETTINGS) as session:
                client = session.client("acme")
                await with_idle_connections(client)
                with pytest.raises(BadResponse) as caught:
                    await act(client)
        assert record.count("POST", path) == 1
        assert "it may have reached CapRover" in str(caught.value)
        assert str(caught.value).startswith("acme: connection closed without an answer")

    async def test_a_dropped_login_is_sent_once(self) -> None:
        async with raw_server(caprover_that_drops("/login")) as (url, record):
            async with FleetSession([Instance("acme", url, Secret("pw"))], SETTINGS) as session:
                with pytest.raises(BadResponse):
                    await session.client("acme").app_definitions()
        assert record.count("POST", "/login") == 1


class TestTimedOut:
    async def test_a_deploy_that_timed_out_is_not_resent_and_may_have_arrived(self) -> None:
        async def never_answer_deploys(
            reader: asyncio.StreamReader, writer: asyncio.StreamWriter, record: ServerRecord
        ) -> None:
            while (request := await read_request(reader)) is not None:
                record.requests.append(request)
                if "/appData/" in request.target:
                    while await reader.read(65536):  # holds the deploy, says nothing
                        pass
                    return
                writer.write(LOGIN_OK)
                await writer.drain()

        settings = HttpSettings(connect_timeout=3, read_timeout=3, request_deadline=0.5)
        async with raw_server(never_answer_deploys) as (url, record):
            async with FleetSession([Instance("acme", url, Secret("pw"))], settings) as session:
                with pytest.raises(Unreachable) as caught:
                    await session.client("acme").deploy_image("explorer", "repo/explorer:2")
        assert record.count("POST", "/appData/explorer") == 1
        assert str(caught.value) == (
            "acme: timed out: no complete answer within 0.5 s; the request was sent once and "
            "not repeated: it may have reached CapRover, so check the instance before asking again"
        )


class TestAfterIdle:
    async def test_a_deploy_after_an_idle_period_goes_out_on_a_fresh_connection(self) -> None:
        async def silent_when_idle(
            reader: asyncio.StreamReader, writer: asyncio.StreamWriter, record: ServerRecord
        ) -> None:
            loop = asyncio.get_running_loop()
            answered_at: float | None = None
            while (request := await read_request(reader)) is not None:
                record.requests.append(request)
                if answered_at is not None and loop.time() - answered_at > 0.1:
                    while await reader.read(65536):  # swallowed, as by a NAT that forgot us
                        pass
                    return
                writer.write(LOGIN_OK if request.target.endswith("/login") else DEPLOY_STARTED)
                await writer.drain()
                answered_at = loop.time()

        settings = HttpSettings(connect_timeout=3, read_timeout=3, request_deadline=3,
                                keepalive_expiry=0.2)
        async with raw_server(silent_when_idle) as (url, record):
            async with FleetSession([Instance("acme", url, Secret("pw"))], settings) as session:
                client = session.client("acme")
                await client.login()
                await asyncio.sleep(0.5)  # the laptop slept; the login's connection is dead
                await client.deploy_image("explorer", "repo/explorer:2")
        assert record.count("POST", "/appData/explorer") == 1 and record.connections == 2
