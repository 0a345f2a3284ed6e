"""core/http.py against scripted servers on loopback: what reaches a server, how often, and
what an operator reads when the network fails. Every count is the server's own."""

from __future__ import annotations

import asyncio
import errno
import socket
import ssl
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import trustme

from gc_tui.core.http import (
    FailureKind,
    HttpSettings,
    NetworkFailure,
    TlsContexts,
    ca_file_problem,
    describe,
    fetch,
    make_client,
)
from tests.rawhttp import ServerRecord, answer, raw_server, read_request, reset
from tests.resolver import FakeResolver

SETTINGS = HttpSettings(connect_timeout=3, read_timeout=3, request_deadline=3)
OK = answer(200, b'{"ok": true}')


async def answer_everything(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, record: ServerRecord
) -> None:
    while (request := await read_request(reader)) is not None:
        record.requests.append(request)
        writer.write(OK)
        await writer.drain()


Made = dict[str, httpx.AsyncClient]


@pytest.fixture
async def client_for() -> AsyncIterator[Made]:
    """Clients made by make_client, closed at the end; keyed by base URL."""
    made: dict[str, httpx.AsyncClient] = {}
    yield made
    for client in made.values():
        await client.aclose()


def client(made: Made, url: str, settings: HttpSettings = SETTINGS,
           tls: ssl.SSLContext | None = None) -> httpx.AsyncClient:
    made[url] = make_client(url, tls=tls, settings=settings)
    return made[url]


async def open_idle_connections(http: httpx.AsyncClient, count: int) -> None:
    """``count`` GETs side by side: the pool then holds that many idle connections."""
    answers = await asyncio.gather(*(fetch(http, "GET", "/", SETTINGS) for _ in range(count)))
    assert all(a.status == 200 for a in answers)


class TestSentAtMostOnce:
    """A request that changes a server goes out once, whatever the connection does; a GET
    may go out twice, only when a reused connection closed before the answer began."""

    async def test_a_post_the_server_reads_then_drops_reaches_it_once(
        self, client_for: Made
    ) -> None:
        async def drop_posts(
            reader: asyncio.StreamReader, writer: asyncio.StreamWriter, record: ServerRecord
        ) -> None:
            while (request := await read_request(reader)) is not None:
                record.requests.append(request)
                if request.method == "POST":
                    return  # read it whole, then hang up without a word
                writer.write(OK)
                await writer.drain()

        async with raw_server(drop_posts) as (url, record):
            http = client(client_for, url)
            await open_idle_connections(http, SETTINGS.max_connections)
            with pytest.raises(NetworkFailure) as caught:
                await fetch(http, "POST", "/deploy", SETTINGS, content=b"{}")
        assert caught.value.kind is FailureKind.NO_ANSWER
        assert record.count("POST", "/deploy") == 1

    async def test_a_get_dropped_on_a_reused_connection_is_sent_once_more(
        self, client_for: Made
    ) -> None:
        async def drop_second_request_of_first_connection(
            reader: asyncio.StreamReader, writer: asyncio.StreamWriter, record: ServerRecord
        ) -> None:
            first_connection = record.connections == 1
            served = 0
            while (request := await read_request(reader)) is not None:
                record.requests.append(request)
                if first_connection and served == 1:
                    return  # as if the server's keep-alive ran out just as the GET arrived
                writer.write(OK)
                await writer.drain()
                served += 1

        async with raw_server(drop_second_request_of_first_connection) as (url, record):
            http = client(client_for, url)
            await fetch(http, "GET", "/first", SETTINGS)
            second = await fetch(http, "GET", "/second", SETTINGS)
        assert second.status == 200
        assert record.count("GET", "/second") == 2 and record.connections == 2

    async def test_a_get_dropped_on_a_fresh_connection_is_not_resent(
        self, client_for: Made
    ) -> None:
        async def drop_everything(
            reader: asyncio.StreamReader, writer: asyncio.StreamWriter, record: ServerRecord
        ) -> None:
            request = await read_request(reader)
            if request is not None:
                record.requests.append(request)

        async with raw_server(drop_everything) as (url, record):
            with pytest.raises(NetworkFailure) as caught:
                await fetch(client(client_for, url), "GET", "/", SETTINGS)
        assert caught.value.kind is FailureKind.NO_ANSWER
        assert record.count("GET", "/") == 1


class TestIdleConnections:
    """A connection idle past keepalive_expiry is never used again: after a suspend or a NAT
    timeout it may be dead without either end knowing."""

    async def test_after_an_idle_period_a_new_connection_carries_the_next_request(
        self, client_for: Made
    ) -> None:
        async def go_silent_when_idle(
            reader: asyncio.StreamReader, writer: asyncio.StreamWriter, record: ServerRecord
        ) -> None:
            loop = asyncio.get_running_loop()
            answered_at: float | None = None
            while (request := await read_request(reader)) is not None:
                record.requests.append(request)
                if answered_at is not None and loop.time() - answered_at > 0.1:
                    # Like a NAT that forgot the connection: data vanishes, nothing closes.
                    while await reader.read(65536):
                        pass
                    return
                writer.write(OK)
                await writer.drain()
                answered_at = loop.time()

        settings = HttpSettings(connect_timeout=3, read_timeout=3, request_deadline=3,
                                keepalive_expiry=0.2)
        async with raw_server(go_silent_when_idle) as (url, record):
            http = client(client_for, url, settings)
            await fetch(http, "GET", "/apps", settings)
            await asyncio.sleep(0.5)
            deploy = await fetch(http, "POST", "/deploy", settings, content=b"{}")
        assert deploy.status == 200
        assert record.connections == 2 and record.count("POST", "/deploy") == 1


class TestLimits:
    async def test_an_endless_answer_is_cut_at_the_cap(self, client_for: Made) -> None:
        async def endless(
            reader: asyncio.StreamReader, writer: asyncio.StreamWriter, record: ServerRecord
        ) -> None:
            await read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            chunk = b"x" * 65536
            for _ in range(1000):  # 64 MiB at most, far past the cap
                writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                await writer.drain()

        settings = HttpSettings(request_deadline=10, max_response_bytes=1024 * 1024)
        async with raw_server(endless) as (url, _):
            with pytest.raises(NetworkFailure) as caught:
                await fetch(client(client_for, url, settings), "GET", "/", settings)
        assert caught.value.kind is FailureKind.TOO_LARGE
        assert "more than 1 MiB" in str(caught.value)

    async def test_a_dripping_answer_meets_the_total_deadline(self, client_for: Made) -> None:
        async def drip(
            reader: asyncio.StreamReader, writer: asyncio.StreamWriter, record: ServerRecord
        ) -> None:
            await read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
            for _ in range(1000):
                writer.write(b"x")
                await writer.drain()
                await asyncio.sleep(0.05)  # each byte well within the read timeout

        settings = HttpSettings(read_timeout=2, request_deadline=0.5)
        async with raw_server(drip) as (url, _):
            with pytest.raises(NetworkFailure) as caught:
                await fetch(client(client_for, url, settings), "GET", "/", settings)
        assert caught.value.kind is FailureKind.TIMEOUT
        assert "no complete answer within 0.5 s" in str(caught.value)

    @pytest.mark.parametrize(
        "garbage",
        [
            b"HTTP/1.1 200 OK\r\nContent-Length: \xc2\xb2\r\n\r\n{}",  # a superscript two
            b"SSH-2.0-OpenSSH_9.6\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
        ],
    )
    async def test_bytes_that_are_not_http(self, client_for: Made, garbage: bytes) -> None:
        async def send_garbage(
            reader: asyncio.StreamReader, writer: asyncio.StreamWriter, record: ServerRecord
        ) -> None:
            await read_request(reader)
            writer.write(garbage)
            await writer.drain()

        async with raw_server(send_garbage) as (url, _):
            with pytest.raises(NetworkFailure) as caught:
                await fetch(client(client_for, url), "GET", "/", SETTINGS)
        assert caught.value.kind is FailureKind.PROTOCOL


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


class TestReadableFailures:
    """Each failure says what happened: DNS, refused, no route, TLS, a reset."""

    async def test_a_name_that_does_not_exist(self, client_for: Made) -> None:
        with pytest.raises(NetworkFailure) as caught:
            await fetch(client(client_for, "https://captain.nowhere.invalid"), "GET", "/", SETTINGS)
        assert str(caught.value) == "name not found (DNS)"

    async def test_nothing_listening(self, client_for: Made) -> None:
        url = f"http://127.0.0.1:{free_port()}"
        with pytest.raises(NetworkFailure) as caught:
            await fetch(client(client_for, url), "GET", "/", SETTINGS)
        assert str(caught.value) == "connection refused"

    async def test_a_reset(self, client_for: Made) -> None:
        async def reset_after_reading(
            reader: asyncio.StreamReader, writer: asyncio.StreamWriter, record: ServerRecord
        ) -> None:
            await read_request(reader)
            reset(writer)

        async with raw_server(reset_after_reading) as (url, _):
            with pytest.raises(NetworkFailure) as caught:
                await fetch(client(client_for, url), "POST", "/", SETTINGS, content=b"{}")
        assert caught.value.kind is FailureKind.NO_ANSWER

    async def test_an_untrusted_certificate_then_the_ca_file_that_trusts_it(
        self, client_for: Made, ca: trustme.CA, tmp_path: Path
    ) -> None:
        server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("localhost").configure_cert(server_tls)
        server = await asyncio.start_server(
            lambda r, w: answer_everything(r, w, ServerRecord()), "127.0.0.1", 0, ssl=server_tls
        )
        url = f"https://localhost:{server.sockets[0].getsockname()[1]}"
        ca_file = tmp_path / "ca.pem"
        ca.cert_pem.write_to_path(str(ca_file))
        contexts = TlsContexts()
        try:
            with pytest.raises(NetworkFailure) as caught:
                await fetch(client(client_for, url), "GET", "/", SETTINGS)
            trusted = client(client_for, url + "/", tls=contexts.context(ca_file))
            assert (await fetch(trusted, "GET", "/", SETTINGS)).status == 200
        finally:
            server.close()
            await server.wait_closed()
        assert caught.value.kind is FailureKind.TLS_UNTRUSTED
        assert "certificate" in caught.value.detail  # OpenSSL's own reason, e.g. self-signed

    async def test_an_https_answer_that_never_comes_is_a_timeout_not_tls(
        self, client_for: Made, ca: trustme.CA, tmp_path: Path
    ) -> None:
        # Review (helper): anyio leaves an SSLWantReadError in the chain of a read that timed
        # out, and the causes were read first: every HTTPS timeout or reset after the request
        # was out read "TLS handshake failed", which counts as never connected (a CapRover
        # update then failed without following its restart).
        async def read_then_hang(
            reader: asyncio.StreamReader, writer: asyncio.StreamWriter
        ) -> None:
            await read_request(reader)
            await asyncio.sleep(5)

        server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("localhost").configure_cert(server_tls)
        server = await asyncio.start_server(read_then_hang, "127.0.0.1", 0, ssl=server_tls)
        url = f"https://localhost:{server.sockets[0].getsockname()[1]}"
        ca_file = tmp_path / "ca.pem"
        ca.cert_pem.write_to_path(str(ca_file))
        quick = HttpSettings(connect_timeout=3, read_timeout=0.5, request_deadline=3)
        try:
            http = client(client_for, url, quick, tls=TlsContexts().context(ca_file))
            with pytest.raises(NetworkFailure) as caught:
                await fetch(http, "POST", "/", quick, content=b"{}")
        finally:
            server.close()
            await server.wait_closed()
        assert caught.value.kind is FailureKind.TIMEOUT

    async def test_plain_http_to_this_machine_never_goes_through_a_proxy(
        self, client_for: Made, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # Review (helper): plain HTTP is allowed to loopback because the password stays on
        # this machine; through HTTP_PROXY or the config's proxy it crossed the network.
        unroutable = "http://192.0.2.1:3128"  # TEST-NET-1: nothing answers there
        monkeypatch.setenv("HTTP_PROXY", unroutable)
        quick = HttpSettings(connect_timeout=1, read_timeout=1, request_deadline=2)
        async with raw_server(answer_everything) as (url, record):
            made = make_client(url, tls=None, settings=quick, proxy=unroutable)
            client_for[url] = made
            assert (await fetch(made, "GET", "/", quick)).status == 200
        assert len(record.requests) == 1

    @pytest.mark.parametrize(
        ("code", "kind"),
        [
            (errno.EHOSTUNREACH, FailureKind.NO_ROUTE),
            (errno.ENETUNREACH, FailureKind.NO_ROUTE),
            (errno.ECONNREFUSED, FailureKind.REFUSED),
            (errno.ETIMEDOUT, FailureKind.CONNECT_TIMEOUT),
        ],
    )
    def test_os_errors_under_httpx(self, code: int, kind: FailureKind) -> None:
        # No route cannot be made on loopback, so the OS error is built as httpx chains it.
        error = httpx.ConnectError("All connection attempts failed")
        error.__cause__ = OSError(code, "from the kernel")
        assert describe(error).kind is kind

    def test_of_several_addresses_the_most_telling_failure_is_said(self) -> None:
        error = httpx.ConnectError("All connection attempts failed")
        error.__cause__ = OSError("All connection attempts failed")
        error.__cause__.__cause__ = ExceptionGroup(
            "multiple connection attempts failed",
            [OSError(errno.ENETUNREACH, "v6"), OSError(errno.ECONNREFUSED, "v4")],
        )
        assert describe(error).kind is FailureKind.REFUSED


class TestAddressRacing:
    """A host whose first address swallows connection attempts still answers over the next
    one, long before the connect timeout (Happy Eyeballs, in httpx's anyio backend)."""

    @pytest.fixture
    def black_hole(self) -> Iterator[int]:
        """A port on [::1] whose listen queue is full: connection attempts there hang."""
        listener = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        listener.bind(("::1", 0))
        listener.listen(0)
        filler = socket.create_connection(("::1", listener.getsockname()[1]))
        try:
            yield listener.getsockname()[1]
        finally:
            filler.close()
            listener.close()

    async def test_ipv6_black_holed_ipv4_answers(
        self, client_for: Made, black_hole: int, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # No name here resolves to both ::1 and 127.0.0.1, so the resolver is the one part
        # replaced: first the black-holed IPv6 address, then the working IPv4 one.
        FakeResolver(monkeypatch, {"captain.dual.test": ["::1", "127.0.0.1"]})
        async with raw_server(answer_everything, port=black_hole) as (_, record):
            http = client(client_for, f"http://captain.dual.test:{black_hole}")
            got = await fetch(http, "GET", "/", SETTINGS)  # connect timeout 3 s
        assert got.status == 200
        assert [(r.method, r.target) for r in record.requests] == [("GET", "/")]
        assert record.requests[0].headers["host"] == f"captain.dual.test:{black_hole}"


class TestCaFiles:
    def test_problems_are_said(self, tmp_path: Path, ca: trustme.CA) -> None:
        good = tmp_path / "ca.pem"
        ca.cert_pem.write_to_path(str(good))
        not_pem = tmp_path / "ca.der"
        not_pem.write_bytes(b"\x30\x82\x01\x00 not a certificate")
        empty = tmp_path / "empty.pem"
        empty.write_text("")
        assert ca_file_problem(good) is None
        assert ca_file_problem(tmp_path / "missing.pem") == "no such file"
        assert ca_file_problem(not_pem) == "no PEM certificate in it"
        assert ca_file_problem(empty) == "no PEM certificate in it"
        assert ca_file_problem(tmp_path) == "a directory, not a file"
