"""Nothing from asyncio, the event loop or a library reaches stderr, whatever the network does.

A fleet holding every kind of failure (TLS, DNS, refused, reset, bytes that are not HTTP,
plain HTTP refused) is audited in a child process, on the loop each command uses: the
headless command on core/eventloop.py's choice, and asyncio's own loop as the TUI runs it.
Its stderr may hold gc-tui's own lines only; each row still says what happened.
"""

from __future__ import annotations

import json
import socket
import socketserver
import ssl
import struct
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import trustme

from gc_tui.demo.fleet import FakeFleetThread
from tests.fakefleet import fake_instance
from tests.vaults import make_vault

ROOT = Path(__file__).resolve().parent.parent
TLS_INSTANCES = 5  # TLS failures once left tracebacks in about 3 runs out of 5


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def _read_request(connection: socket.socket) -> None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            return
        data += chunk


def _reset(connection: socket.socket) -> None:
    _read_request(connection)
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def _garbage(connection: socket.socket) -> None:
    _read_request(connection)
    connection.sendall("HTTP/1.1 200 OK\r\nContent-Length: ²\r\n\r\n{}".encode())


Scripted = Callable[[Callable[[socket.socket], None]], str]


@pytest.fixture
def scripted() -> Iterator[Scripted]:
    """Start a threaded loopback server running one behaviour per connection; its URL."""
    servers: list[_Server] = []

    def start(behaviour: Callable[[socket.socket], None]) -> str:
        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                behaviour(self.request)

        server = _Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def failing_fleet(scripted: Scripted) -> Iterator[dict[str, str]]:
    """name -> URL for an instance of each failure kind, plus one that answers."""
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    trustme.CA().issue_cert("localhost").configure_cert(server_tls)  # trusted by nobody
    tls_names = [f"tls{n}" for n in range(TLS_INSTANCES)]
    with FakeFleetThread([fake_instance("ok", "ok-pw")]) as plain, FakeFleetThread(
        [fake_instance(name, "tls-pw") for name in tls_names],
        ssl_context=server_tls, url_host="localhost",
    ) as tls:
        yield {
            "ok": plain.url("ok"),
            **{name: tls.url(name) for name in tls_names},
            "dns": "https://captain.nowhere.invalid",
            "refused": f"http://127.0.0.1:{_free_port()}",
            "reset": scripted(_reset),
            "garbage": scripted(_garbage),
            "cleartext": "http://captain.cleartext.invalid:3000",
        }


EXPECTED = {
    "ok": ("ok", None),
    "dns": ("unreachable", "name not found (DNS)"),
    "refused": ("unreachable", "connection refused"),
    "reset": ("error", "connection closed without an answer"),
    "garbage": ("error", "not HTTP"),
    "cleartext": ("error", "refusing to send the password in clear"),
    **{f"tls{n}": ("tls_error", "TLS certificate not trusted") for n in range(TLS_INSTANCES)},
}


def assert_rows(rows: dict[str, tuple[str, str | None]]) -> None:
    for name, (status, words) in EXPECTED.items():
        got_status, got_error = rows[name]
        assert got_status == status, (name, got_error)
        assert (got_error is None) if words is None else (words in str(got_error)), name


def assert_only_our_lines(stderr: str) -> None:
    for line in stderr.splitlines():
        assert line.startswith(("gc-tui: ", "warning: ")), f"not gc-tui's: {line!r}"
    for word in ("Traceback", "never retrieved", "Exception", "Task", "asyncio", "uvloop"):
        assert word not in stderr


def test_the_headless_audit(failing_fleet: dict[str, str], tmp_path: Path) -> None:
    vault = make_vault(
        tmp_path / "fleet.kdbx",
        [
            {"title": name, "url": url, "password": "ok-pw" if name == "ok" else "tls-pw",
             "group": "CapRover"}
            for name, url in failing_fleet.items()
        ],
        password="vault-pw",
    )
    done = subprocess.run(
        [sys.executable, "-m", "gc_tui", "audit", "--vault", str(vault),
         "--group", "CapRover", "--format", "json", "--password-stdin"],
        input="vault-pw\n", capture_output=True, text=True, cwd=ROOT, timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert_only_our_lines(done.stderr)
    rows = json.loads(done.stdout)["instances"]
    assert_rows({row["name"]: (row["status"], row["error"]) for row in rows})


# The same audit from the core, as the TUI runs it (asyncio's loop) and on uvloop, with the
# garbage collector run at the end: an exception never retrieved is printed only then.
_SCRIPT = """
import gc, json, sys
from gc_tui.core.audit import audit_fleet
from gc_tui.core.eventloop import run
from gc_tui.core.http import HttpSettings
from gc_tui.core.model import Instance
from gc_tui.core.secret import Secret
from gc_tui.core.session import FleetSession

fleet = json.loads(sys.stdin.read())
instances = [Instance(name, url, Secret(password)) for name, url, password in fleet]

async def audit():
    async with FleetSession(instances, HttpSettings(connect_timeout=5, request_deadline=10)) as s:
        return await audit_fleet(s)

audits = run(audit(), choice=sys.argv[1])
gc.collect()
print(json.dumps({a.instance.name: [a.status.value, a.error] for a in audits}))
"""


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_the_core_audit_on_each_loop(failing_fleet: dict[str, str], loop: str) -> None:
    fleet = [
        (name, url, "ok-pw" if name == "ok" else "tls-pw") for name, url in failing_fleet.items()
    ]
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, loop],
        input=json.dumps(fleet), capture_output=True, text=True, cwd=ROOT, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    rows = json.loads(done.stdout)
    assert_rows({name: (status, error) for name, (status, error) in rows.items()})
