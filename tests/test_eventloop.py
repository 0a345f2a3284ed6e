"""The headless commands run on uvloop where it is installed; the client and the fake must
behave there exactly as on asyncio's loop (errors included), and fall back without it."""

from __future__ import annotations

import asyncio
import ssl
import sys
from typing import Any

import pytest
import trustme

from gc_tui.core.audit import audit_fleet
from gc_tui.core.eventloop import loop_factory, loop_name, run
from gc_tui.core.http import HttpSettings
from gc_tui.core.model import Instance, InstanceStatus
from gc_tui.core.secret import Secret
from gc_tui.core.session import FleetSession
from tests.fakefleet import fake_instance, running_fleet

if sys.platform == "win32":  # the only platform where pyproject does not install uvloop
    pytest.skip("uvloop is not built for Windows", allow_module_level=True)

FAST = HttpSettings(connect_timeout=2, read_timeout=2, request_deadline=3,
                      max_response_bytes=64 * 1024)


async def _loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


def test_auto_picks_uvloop_and_asyncio_can_be_forced() -> None:
    assert run(_loop_module()).startswith("uvloop")
    assert run(_loop_module(), choice="asyncio").startswith("asyncio")
    assert loop_name() == "uvloop" and loop_name("asyncio") == "asyncio"
    assert loop_factory("asyncio") is None


def test_without_uvloop_auto_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "uvloop", None)  # as if not installed
    assert loop_factory() is None
    assert run(_loop_module()).startswith("asyncio")
    with pytest.raises(ImportError):
        loop_factory("uvloop")


@pytest.mark.parametrize("choice", ["uvloop", "asyncio"])
def test_an_audit_with_every_kind_of_answer(choice: Any) -> None:
    """The same fleet, on either loop: the same statuses and reasons."""
    ca = trustme.CA()
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server_tls)

    async def audit() -> list[tuple[str, InstanceStatus, str | None, int]]:
        fakes = [
            fake_instance("ok"),
            fake_instance("wrong", password="server-side"),
            fake_instance("down", fault="unreachable"),
            fake_instance("huge", fault="huge", huge_bytes=1024 * 1024),
            fake_instance("html", fault="html"),
        ]
        async with running_fleet(*fakes) as fleet, running_fleet(
            fake_instance("tls"), ssl_context=server_tls, url_host="localhost"
        ) as tls_fleet:
            instances = [
                Instance(
                    f.name, fleet.url(f.name), Secret(f.password if f.name != "wrong" else "x")
                )
                for f in fakes
            ] + [Instance("tls", tls_fleet.url("tls"), Secret("alpha-password"))]
            async with FleetSession(instances, FAST) as session:
                audits = await audit_fleet(session)
        return [(a.instance.name, a.status, a.error, len(a.apps)) for a in audits]

    results = {name: rest for name, *rest in run(audit(), choice=choice)}
    assert results["ok"] == [InstanceStatus.OK, None, 2]
    assert results["wrong"][0] is InstanceStatus.AUTH_FAILED
    assert results["down"][0] is InstanceStatus.UNREACHABLE
    assert results["huge"][0] is InstanceStatus.ERROR and "large" in str(results["huge"][1])
    assert results["html"][0] is InstanceStatus.ERROR and "HTML" in str(results["html"][1])
    assert results["tls"][0] is InstanceStatus.TLS_ERROR
    assert "not trusted" in str(results["tls"][1])
