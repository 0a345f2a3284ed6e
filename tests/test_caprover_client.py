"""The CapRover client against the fake server over loopback: every answer becomes a value
or a readable error naming the instance, never a crash, never a second wrong-password login."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from gc_tui.core.caprover import (
    ApiError,
    BadResponse,
    CapRoverError,
    LockedOut,
    OtpRequired,
    TlsFailure,
    Unreachable,
    WrongPassword,
)
from gc_tui.core.http import HttpSettings
from gc_tui.core.model import Instance, TotpSpec
from gc_tui.core.secret import Secret
from gc_tui.core.session import FleetSession
from gc_tui.demo.fleet import FakeFleet
from gc_tui.demo.instance import FakeApp, FakeInstance
from tests.fakefleet import fake_app, fake_instance, running_fleet

FAST = HttpSettings(connect_timeout=2, read_timeout=2, request_deadline=1.0)


def as_vault_entry(
    fleet: FakeFleet, fake: FakeInstance, password: str | None = None, **kw: Any
) -> Instance:
    return Instance(
        fake.name,
        fleet.url(fake.name),
        Secret(password if password is not None else fake.password),
        **kw,
    )


async def session_for(fleet: FakeFleet, *instances: Instance, **kw: Any) -> FleetSession:
    return FleetSession(list(instances), FAST, **kw)


class TestLogin:
    """One login per instance per action; a wrong password is never tried twice."""

    async def test_apps_and_version_after_login(self) -> None:
        fake = fake_instance(
            apps=[fake_app("explorer", "communityfirst/guardianconnector-explorer:20260731-948", 3)]
        )
        async with running_fleet(fake) as fleet:
            async with FleetSession([as_vault_entry(fleet, fake)], FAST) as session:
                client = session.client(fake.name)
                (explorer,) = await client.app_definitions()
                version = await client.version_info()
        assert explorer.name == "explorer"
        assert explorer.image == "communityfirst/guardianconnector-explorer:20260731-948"
        assert explorer.history_length == 3 and explorer.deployed_version == 2
        assert version.current == fake.version
        assert fake.login_attempts() == 1

    async def test_wrong_password_is_tried_once_only(self) -> None:
        fake = fake_instance()
        async with running_fleet(fake) as fleet:
            entry = as_vault_entry(fleet, fake, password="not-the-password")
            async with FleetSession([entry], FAST) as session:
                client = session.client(fake.name)
                for _ in range(3):
                    with pytest.raises(WrongPassword, match="alpha: wrong password"):
                        await client.app_definitions()
        assert fake.login_attempts() == 1

    async def test_totp_code_from_the_vault_is_sent(self) -> None:
        seed = "JBSWY3DPEHPK3PXP"  # 80 bits: pyotp 2.12 would refuse it
        fake = fake_instance(otp_secret=seed)
        async with running_fleet(fake) as fleet:
            with_otp = as_vault_entry(fleet, fake, totp=TotpSpec(Secret(seed)))
            async with FleetSession([with_otp], FAST) as session:
                assert await session.client(fake.name).app_definitions()

    async def test_otp_required_when_the_vault_has_no_seed(self) -> None:
        fake = fake_instance(otp_secret="JBSWY3DPEHPK3PXP")
        async with running_fleet(fake) as fleet:
            async with FleetSession([as_vault_entry(fleet, fake)], FAST) as session:
                with pytest.raises(OtpRequired, match="TOTP seed"):
                    await session.client(fake.name).login()

    async def test_back_off_says_how_long_to_wait(self) -> None:
        fake = fake_instance()
        async with running_fleet(fake) as fleet:
            # Five other clients with a wrong password lock everyone out for 30 s.
            for _ in range(5):
                async with FleetSession([as_vault_entry(fleet, fake, "wrong")], FAST) as other:
                    with pytest.raises(WrongPassword):
                        await other.client(fake.name).login()
            async with FleetSession([as_vault_entry(fleet, fake)], FAST) as session:
                with pytest.raises(LockedOut, match="wait 30 seconds"):
                    await session.client(fake.name).login()

    async def test_a_password_over_29_characters_shows_caprovers_own_message(self) -> None:
        long_password = "x" * 32
        fake = fake_instance(password=long_password)
        async with running_fleet(fake) as fleet:
            async with FleetSession([as_vault_entry(fleet, fake)], FAST) as session:
                with pytest.raises(ApiError, match="too long - maximum 29 characters"):
                    await session.client(fake.name).login()

    async def test_a_restart_invalidates_the_token_and_one_new_login_recovers(self) -> None:
        fake = fake_instance()
        async with running_fleet(fake) as fleet:
            async with FleetSession([as_vault_entry(fleet, fake)], FAST) as session:
                client = session.client(fake.name)
                await client.app_definitions()
                fake.restart()
                await client.app_definitions()
        assert fake.login_attempts() == 2


class TestAnswersThatAreNotCapRover:
    """Anything but the envelope is a BadResponse (or Unreachable) naming the instance."""

    @pytest.mark.parametrize(
        ("fault", "error", "words"),
        [
            ("html", BadResponse, "HTML"),
            ("not_json", BadResponse, "not JSON"),
            ("empty", BadResponse, "empty answer"),
            ("truncated", BadResponse, "connection broke"),
            ("http500", BadResponse, "HTTP 500"),
            ("redirect_other_host", BadResponse, "redirect to evil.invalid; not followed"),
            ("slow", Unreachable, "no complete answer within 1 s"),
            ("drip", Unreachable, "no complete answer within 1 s"),
            ("silent", Unreachable, "no complete answer within 1 s"),
        ],
    )
    async def test_fault(self, fault: str, error: type[CapRoverError], words: str) -> None:
        fake = fake_instance(fault=fault, slow_seconds=3, drip_interval=0.2)
        async with running_fleet(fake) as fleet:
            async with FleetSession([as_vault_entry(fleet, fake)], FAST) as session:
                with pytest.raises(error) as caught:
                    await session.client(fake.name).login()
        assert str(caught.value).startswith("alpha: ")
        assert words in str(caught.value)
        assert fake.password not in str(caught.value)

    async def test_a_huge_body_is_cut_off(self) -> None:
        fake = fake_instance(fault="huge", huge_bytes=100 * 1024 * 1024)
        settings = HttpSettings(request_deadline=20, max_response_bytes=1024 * 1024)
        async with running_fleet(fake) as fleet:
            async with FleetSession([as_vault_entry(fleet, fake)], settings) as session:
                with pytest.raises(BadResponse, match=r"larger than|too large"):
                    await session.client(fake.name).login()

    async def test_nothing_listening_is_unreachable(self) -> None:
        fake = fake_instance(fault="unreachable")
        async with running_fleet(fake) as fleet:
            async with FleetSession([as_vault_entry(fleet, fake)], FAST) as session:
                with pytest.raises(Unreachable) as caught:
                    await session.client(fake.name).login()
        assert str(caught.value) == f"alpha: cannot connect to {fleet.url('alpha')}: " \
            "connection refused"


class TestHostileJson:
    """JSON that parses badly or into nonsense is a BadResponse, never an unexpected error."""

    @pytest.mark.parametrize(
        ("body", "words"),
        [
            (b"[" * 100_000, "not JSON"),  # nesting deep enough to exhaust a recursive parser
            (b'{"status": NaN, "data": {}}', "not JSON"),
            (b'{"status": 100, "data": {"token": "\\ud800"}}', "not JSON"),  # a lone surrogate
            (b'{"status": 100000000000000000000000, "data": {}}', "without a numeric status"),
            (
                b'{"status": 100, "description": "ok", "data": {"token": "a\\r\\nx: y"}}',
                "token is malformed",
            ),
            (b"[1, 2]", "not CapRover's envelope"),
        ],
    )
    async def test_hostile_json(self, body: bytes, words: str) -> None:
        answer = (
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\n\r\n%s"
        )

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(answer % (len(body), body))
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        instance = Instance("hostile", f"http://127.0.0.1:{port}", Secret("pw"))
        try:
            async with FleetSession([instance], FAST) as session:
                with pytest.raises(BadResponse, match=words):
                    await session.client("hostile").login()
        finally:
            server.close()
            await server.wait_closed()


class TestAppDefinitions:
    """The deployed image is the versions[] entry whose version equals deployedVersion."""

    async def test_zero_apps(self) -> None:
        fake = fake_instance()
        fake.apps.clear()
        async with running_fleet(fake) as fleet:
            async with FleetSession([as_vault_entry(fleet, fake)], FAST) as session:
                assert await session.client(fake.name).app_definitions() == ()

    async def test_deployed_version_without_a_matching_entry(self) -> None:
        broken = FakeApp.with_history("explorer", ["repo/explorer:1", "repo/explorer:2"])
        broken.deployed_version = 7
        fake = fake_instance(apps=[broken])
        async with running_fleet(fake) as fleet:
            async with FleetSession([as_vault_entry(fleet, fake)], FAST) as session:
                (explorer,) = await session.client(fake.name).app_definitions()
        assert explorer.image is None and explorer.deployed_version == 7
        assert not explorer.manual

    async def test_a_history_with_junk_entries(self) -> None:
        """Entries that are not objects with an integer version are left out; the deployed
        one is found whether or not the history was read first."""
        app = FakeApp.with_history("explorer", ["repo/explorer:1", "repo/explorer:2"])
        junk: list[Any] = [
            "junk", None, {"version": True, "deployedImageName": "repo/explorer:bool"},
            {"version": "1", "deployedImageName": "repo/explorer:text"},
            {"noversion": 1},
        ]
        app.versions[:0] = junk
        app.versions.append({"version": 0, "deployedImageName": 5, "timeStamp": None})
        app.deployed_version = 1
        fake = fake_instance(apps=[app])
        async with running_fleet(fake) as fleet:
            async with FleetSession([as_vault_entry(fleet, fake)], FAST) as session:
                (explorer,) = await session.client(fake.name).app_definitions()
                (again,) = await session.client(fake.name).app_definitions()
        assert explorer.image == "repo/explorer:2"
        assert [(v.version, v.image) for v in explorer.versions] == [
            (0, "repo/explorer:1"), (1, "repo/explorer:2"), (0, None)
        ]
        assert explorer.history_length == 3
        assert explorer.versions[-1].timestamp is None and explorer.versions[1:2][0].version == 1
        assert explorer == again and hash(explorer) == hash(again)
        assert explorer.previous_image() == (0, "repo/explorer:1", explorer.versions[0].timestamp)

    async def test_server_builds_are_manual(self) -> None:
        fake = fake_instance(
            apps=[
                fake_app("redis", "img-captain-redis:0"),
                fake_app("worker", "registry.example.org/cmi/img-captain-worker:4"),
                fake_app("explorer", "communityfirst/guardianconnector-explorer:latest"),
            ]
        )
        async with running_fleet(fake) as fleet:
            async with FleetSession([as_vault_entry(fleet, fake)], FAST) as session:
                apps = await session.client(fake.name).app_definitions()
        assert [app.manual for app in apps] == [True, True, False]


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
async def tls_fleet(ca: trustme.CA) -> AsyncIterator[tuple[FakeFleet, FakeInstance]]:
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server_context)
    fake = fake_instance()
    async with running_fleet(fake, ssl_context=server_context, url_host="localhost") as fleet:
        yield fleet, fake


class TestTls:
    """Verification is on by default, against the system's trust store plus what the
    environment or the config adds; only the config turns it off, per instance. No password
    is sent to a server that failed verification."""

    async def test_an_untrusted_certificate_is_a_tls_error(
        self, tls_fleet: tuple[FakeFleet, FakeInstance]
    ) -> None:
        fleet, fake = tls_fleet
        async with FleetSession([as_vault_entry(fleet, fake)], FAST) as session:
            with pytest.raises(TlsFailure) as caught:
                await session.client(fake.name).login()
        assert str(caught.value).startswith("alpha: TLS certificate not trusted: ")
        assert "issuer" in str(caught.value)  # OpenSSL's reason: trustme's CA is unknown
        assert fake.login_attempts() == 0

    async def test_the_instance_ca_file_is_trusted(
        self, tls_fleet: tuple[FakeFleet, FakeInstance], ca: trustme.CA, tmp_path: Path
    ) -> None:
        fleet, fake = tls_fleet
        ca_file = tmp_path / "ca.pem"
        ca.cert_pem.write_to_path(str(ca_file))
        entry = as_vault_entry(fleet, fake, ca_file=ca_file)
        async with FleetSession([entry], FAST) as session:
            apps = await session.client(fake.name).app_definitions()
        assert [app.name for app in apps] == ["web", "worker"]
        assert fake.login_attempts() == 1

    async def test_ssl_cert_file_from_the_environment_is_trusted(
        self, tls_fleet: tuple[FakeFleet, FakeInstance], ca: trustme.CA, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        # OpenSSL's default paths read SSL_CERT_FILE, as curl and other tools do.
        fleet, fake = tls_fleet
        bundle = tmp_path / "bundle.pem"
        ca.cert_pem.write_to_path(str(bundle))
        monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
        async with FleetSession([as_vault_entry(fleet, fake)], FAST) as session:
            await session.client(fake.name).login()
        assert fake.login_attempts() == 1

    async def test_a_ca_file_gone_since_the_config_loaded_fails_that_instance_only(
        self, tls_fleet: tuple[FakeFleet, FakeInstance], tmp_path: Path
    ) -> None:
        fleet, fake = tls_fleet
        entry = as_vault_entry(fleet, fake, ca_file=tmp_path / "gone.pem")
        async with FleetSession([entry], FAST) as session:
            with pytest.raises(TlsFailure) as caught:
                await session.client(fake.name).login()
        assert str(caught.value) == f"alpha: cannot use the CA file {tmp_path / 'gone.pem'}: " \
            "no such file"
        assert fake.login_attempts() == 0

    async def test_insecure_skips_verification(
        self, tls_fleet: tuple[FakeFleet, FakeInstance]
    ) -> None:
        fleet, fake = tls_fleet
        async with FleetSession([as_vault_entry(fleet, fake, insecure=True)], FAST) as session:
            apps = await session.client(fake.name).app_definitions()
        assert len(apps) == 2 and fake.login_attempts() == 1
