"""Hostile servers and hostile vault contents, on the headless paths: what reaches the
operator's terminal or spreadsheet is inert text, and no error path prints a secret."""

from __future__ import annotations

import csv
import io
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from gc_tui.cli import run
from gc_tui.core.caprover import BadResponse, CapRoverClient
from gc_tui.core.http import HttpSettings
from gc_tui.core.model import Instance
from gc_tui.core.secret import Secret
from gc_tui.core.session import FleetSession
from gc_tui.demo.fleet import FakeFleetThread
from tests.fakefleet import fake_app, fake_instance, running_fleet
from tests.vaults import make_vault

VAULT_PASSWORD = "hardening-master-pw"
ESC_TITLE = "\x1b]0;pwned\x07"
HOSTILE_APPS = {
    "[@click=app.quit]x": "repo/app:[/latest]",
    f"evil{ESC_TITLE}name": "repo/app:1\x1b[2J",
    "bidi\u202eeman": "repo/\x9b31mapp:2",
}


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(
        [*argv, "--password-stdin"],
        stdin=io.StringIO(VAULT_PASSWORD + "\n"),
        stdout=out,
        stderr=err,
    )
    return code, out.getvalue(), err.getvalue()


HostileFleet = tuple[FakeFleetThread, Path]


@pytest.fixture
def hostile_fleet(tmp_path: Path) -> Iterator[HostileFleet]:
    fake = fake_instance(
        "acme", "acme-pw", apps=[fake_app(name, image) for name, image in HOSTILE_APPS.items()]
    )
    with FakeFleetThread([fake]) as fleet:
        vault = make_vault(
            tmp_path / "v.kdbx",
            [
                {
                    # XML cannot hold ESC; C1 controls and bidi overrides it can.
                    "title": "acme [prod]\x9b2J\u202e",
                    "url": fleet.url("acme"),
                    "password": "acme-pw",
                    "group": "CapRover",
                }
            ],
            password=VAULT_PASSWORD,
        )
        yield fleet, vault


def assert_inert(text: str) -> None:
    for control in ("\x1b", "\x07", "\x9b", "\u202e"):
        assert control not in text


class TestTerminalInjection:
    """Escape sequences and bidi overrides never reach the terminal or the CSV."""

    @pytest.mark.parametrize("fmt", ["table", "csv"])
    def test_audit_output(self, hostile_fleet: HostileFleet, fmt: str) -> None:
        _fleet, vault = hostile_fleet
        code, out, err = run_cli(
            "audit", "--vault", str(vault), "--group", "CapRover", "--format", fmt
        )
        assert code == 0, err
        assert_inert(out + err)
        assert "acme [prod]" in out  # shown as written, brackets and all
        assert "[@click=app.quit]x" in out and "repo/app:[/latest]" in out

    def test_csv_cells_cannot_be_formulas(self, tmp_path: Path) -> None:
        fake = fake_instance("acme", "acme-pw", apps=[fake_app("=cmd|calc", "repo/app:1")])
        with FakeFleetThread([fake]) as fleet:
            vault = make_vault(
                tmp_path / "v.kdbx",
                [{"title": "acme", "url": fleet.url("acme"), "password": "acme-pw", "group": "G"}],
                password=VAULT_PASSWORD,
            )
            _code, out, _ = run_cli(
                "audit", "--vault", str(vault), "--group", "G", "--format", "csv"
            )
        rows = list(csv.DictReader(io.StringIO(out)))
        assert rows[0]["app"] == "'=cmd|calc"


class TestSecretsInErrorPaths:
    """An exception with the master password and a token in scope prints neither."""

    def test_exception_inside_login(
        self, hostile_fleet: HostileFleet, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        fleet, vault = hostile_fleet
        original = CapRoverClient._login_request

        async def exploding_login(self: CapRoverClient) -> str:
            token = await original(self)
            password = self.instance.password.reveal()  # type: ignore[union-attr]
            raise RuntimeError(f"boom {password} {token} {VAULT_PASSWORD}")

        monkeypatch.setattr(CapRoverClient, "_login_request", exploding_login)
        code, out, err = run_cli(
            "audit", "--vault", str(vault), "--group", "CapRover", "--format", "json"
        )
        fake = fleet.instance("acme")
        assert code == 1 and "unexpected error (RuntimeError)" in out
        for secret in (VAULT_PASSWORD, "acme-pw", *fake.tokens):
            assert secret not in out + err

    def test_a_crash_outside_the_core_prints_frames_not_messages(
        self, hostile_fleet: HostileFleet, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        _fleet, vault = hostile_fleet
        import gc_tui.report

        def exploding_table(*args: object, **kwargs: object) -> str:
            secret_in_scope = VAULT_PASSWORD  # noqa: F841 - what a crash screen would print
            raise ValueError(f"cannot render {VAULT_PASSWORD}")

        monkeypatch.setattr(gc_tui.report, "audit_table", exploding_table)
        code, out, err = run_cli("audit", "--vault", str(vault), "--group", "CapRover")
        assert code == 70
        assert "unexpected error (ValueError" in err and "exploding_table" in err
        assert VAULT_PASSWORD not in out + err


class TestRedirects:
    """Never followed: not to another host, not from https to http."""

    async def test_https_to_http_is_refused_and_nothing_is_sent_there(self, tmp_path: Path) -> None:
        ca = trustme.CA()
        server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("localhost").configure_cert(server)
        ca_file = tmp_path / "ca.pem"
        ca.cert_pem.write_to_path(str(ca_file))
        fake = fake_instance("acme", "acme-pw", fault="redirect_to_http")
        async with running_fleet(fake, ssl_context=server, url_host="localhost") as fleet:
            entry = Instance("acme", fleet.url("acme"), Secret("acme-pw"))
            settings = HttpSettings(request_deadline=2)
            async with FleetSession([entry], settings, ca_files={"acme": ca_file}) as session:
                with pytest.raises(BadResponse, match=r"redirect.*not followed"):
                    await session.client("acme").login()
        # One request reached the https server; none followed the redirect anywhere.
        assert fake.login_attempts() == 1
