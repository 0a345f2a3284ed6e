"""The admin password never crosses a network in clear: over http:// to a host that is not
this machine it is not sent, and nothing is even connected, unless the config allows it for
that instance. The row says why."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from gc_tui.cli import run
from gc_tui.config import load_config
from gc_tui.core.audit import audit_fleet
from gc_tui.core.http import HttpSettings
from gc_tui.core.model import Instance, InstanceStatus
from gc_tui.core.secret import Secret
from gc_tui.core.session import FleetSession
from tests.fakefleet import fake_instance, running_fleet
from tests.resolver import FakeResolver
from tests.vaults import make_vault

SETTINGS = HttpSettings(connect_timeout=3, read_timeout=3, request_deadline=3)


def refusal(url: str) -> str:
    return (
        f"refusing to send the password in clear over {url}; "
        "use https:// or set allow_plain_http for this instance"
    )


class TestPolicy:
    @pytest.mark.parametrize(
        ("url", "refused"),
        [
            ("http://127.0.0.1:3000", False),
            ("http://localhost:3000", False),
            ("http://[::1]:3000", False),
            ("http://203.0.113.7:3000", True),  # CapRover's first set-up: http://IP:3000
            ("http://captain.acme.example", True),
            ("https://captain.acme.example", False),
        ],
    )
    def test_which_urls_are_refused(self, url: str, refused: bool) -> None:
        session = FleetSession([Instance("acme", url, Secret("pw"))], SETTINGS)
        found = session.client("acme").plain_http_refusal()
        assert (found is not None) is refused
        if found is not None:
            assert found.reason == refusal(url)


class TestAudit:
    async def test_refused_before_any_lookup_or_connection(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        fake = fake_instance("acme", "acme-pw")
        async with running_fleet(fake) as fleet:
            port = fleet.url("acme").rsplit(":", 1)[1]
            resolver = FakeResolver(monkeypatch, {"captain.acme.test": ["127.0.0.1"]})
            url = f"http://captain.acme.test:{port}"
            async with FleetSession([Instance("acme", url, Secret("acme-pw"))], SETTINGS) as s:
                (audit,) = await audit_fleet(s)
        assert (audit.status, audit.error) == (InstanceStatus.ERROR, refusal(url))
        assert resolver.asked == [] and fake.requests == []

    async def test_allow_plain_http_lets_it_through(self, monkeypatch: pytest.MonkeyPatch) -> None:
        fake = fake_instance("acme", "acme-pw")
        async with running_fleet(fake) as fleet:
            port = fleet.url("acme").rsplit(":", 1)[1]
            resolver = FakeResolver(monkeypatch, {"captain.acme.test": ["127.0.0.1"]})
            allowed = Instance(
                "acme", f"http://captain.acme.test:{port}", Secret("acme-pw"),
                allow_plain_http=True,
            )
            async with FleetSession([allowed], SETTINGS) as session:
                (audit,) = await audit_fleet(session)
        assert audit.ok and fake.login_attempts() == 1
        assert "captain.acme.test" in resolver.asked


class TestCommandLine:
    def test_the_row_says_why_and_the_config_flag_is_per_instance(self, tmp_path: Path) -> None:
        # .invalid never resolves: were anything sent, the row would read "name not found".
        vault = make_vault(
            tmp_path / "fleet.kdbx",
            [
                {"title": "acme", "url": "http://captain.acme.invalid:3000", "password": "a",
                 "group": "CapRover"},
                {"title": "bravo", "url": "http://captain.bravo.invalid:3000", "password": "b",
                 "group": "CapRover"},
            ],
            password="vault-pw",
        )
        config = tmp_path / "config.toml"
        config.write_text(f'vault = "{vault}"\n[instances.bravo]\nallow_plain_http = true\n')
        out, err = io.StringIO(), io.StringIO()
        code = run(
            ["audit", "--config", str(config), "--group", "CapRover", "--format", "json",
             "--password-stdin"],
            stdin=io.StringIO("vault-pw\n"), stdout=out, stderr=err,
        )
        rows = {row["name"]: row for row in json.loads(out.getvalue())["instances"]}
        assert code == 1
        assert rows["acme"]["status"] == "error"
        assert rows["acme"]["error"] == refusal("http://captain.acme.invalid:3000")
        assert rows["bravo"]["status"] == "unreachable"
        assert rows["bravo"]["error"].endswith("name not found (DNS)")
        assert "a" not in err.getvalue().split() and "b" not in err.getvalue().split()

    def test_the_warning_says_the_password_crosses_in_clear(self, tmp_path: Path) -> None:
        config = tmp_path / "config.toml"
        config.write_text("[instances.bravo]\nallow_plain_http = true\n")
        (bravo,) = load_config(config).apply_to(
            [Instance("bravo", "http://captain.bravo.example:3000")]
        )
        assert bravo.allow_plain_http
        assert "allow_plain_http is set: the password crosses the network in clear" in (
            bravo.warnings
        )
