"""HTTP for every server gc-tui talks to (CapRover instances, image registries), on httpx.

httpx is configured here once, and every choice is deliberate (docs/network.md says why, with
its public sources):

- TLS is verified with ``ssl.create_default_context()``: the system trust store, plus whatever
  ``SSL_CERT_FILE`` and ``SSL_CERT_DIR`` name (OpenSSL reads them), plus an optional CA file.
  One context per CA file is shared by every client: building one costs tens of milliseconds,
  and a client left to build its own loads certifi's bundle instead of the system's.
- Proxies: ``trust_env`` lets ``HTTPS_PROXY``, ``HTTP_PROXY``, ``ALL_PROXY`` and ``NO_PROXY``
  work as in other tools; a proxy given by the caller (the config) wins over the environment.
  A plain ``http://`` loopback origin never goes through a proxy: plain HTTP is allowed
  there only because the traffic stays on this machine, and a proxy would carry the password
  across the network in clear (HTTPS goes through a proxy as a CONNECT tunnel, encrypted).
- Redirects are never followed: a redirect would carry the admin token to another host.
- One ``AsyncClient`` per origin: httpcore looks through its whole pool on every request, so
  one client for a fleet of 200 costs quadratically.
- Idle connections expire after a few seconds: after a suspend, a VPN reconnect or a NAT
  timeout a pooled connection can be dead without either end knowing.
- The addresses of a host are raced (httpx's anyio backend does Happy Eyeballs), so a host
  whose IPv6 is black-holed still answers at once over IPv4.
- Every answer is read as a stream under a size cap, and every request has a total deadline.
- Only GET is ever sent twice, and only when a reused connection broke before the answer
  began. A request that changes a server (login, deploy, update) is sent once.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import ssl
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from gc_tui.core.hosts import is_loopback
from gc_tui.core.text import printable

# The size cap counts the bytes that arrive, so nothing may inflate them.
BASE_HEADERS = {"Accept-Encoding": "identity", "User-Agent": "gc-tui"}


@dataclass(frozen=True)
class HttpSettings:
    """Limits for every request; the defaults suit a server across the internet."""

    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    # A total deadline, because a server that drips one byte a second never trips a read timeout.
    request_deadline: float = 60.0
    max_response_bytes: int = 16 * 1024 * 1024
    # Shorter than the NAT and firewall timeouts that silently kill idle connections, and
    # longer than the 2 s between a deploy's status polls, so those reuse their connection.
    keepalive_expiry: float = 5.0
    max_connections: int = 4


class FailureKind(StrEnum):
    """What went wrong below HTTP, in the words an operator sees."""

    DNS = "name not found (DNS)"
    REFUSED = "connection refused"
    NO_ROUTE = "no route"
    CONNECT_TIMEOUT = "timed out connecting"
    TLS_UNTRUSTED = "TLS certificate not trusted"
    TLS_FAILED = "TLS handshake failed"
    PROXY = "proxy failed"
    TIMEOUT = "timed out"
    # The request went out and the connection closed with no answer: the server may or may
    # not have acted on it, so a caller must not assume either.
    NO_ANSWER = "connection closed without an answer"
    BROKE = "connection broke mid-answer"
    TOO_LARGE = "answer too large"
    PROTOCOL = "not HTTP"
    OTHER = "network error"

    @property
    def before_connecting(self) -> bool:
        """No connection was made, so no request reached the server."""
        return self in _CONNECT_KINDS


_CONNECT_KINDS = frozenset(
    {
        FailureKind.DNS,
        FailureKind.REFUSED,
        FailureKind.NO_ROUTE,
        FailureKind.CONNECT_TIMEOUT,
        FailureKind.TLS_UNTRUSTED,
        FailureKind.TLS_FAILED,
        FailureKind.PROXY,
    }
)


class NetworkFailure(Exception):
    """The exchange failed below HTTP; ``str()`` is one readable line without secrets."""

    def __init__(self, kind: FailureKind, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else str(kind))
        self.kind = kind
        self.detail = detail


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    headers: httpx.Headers
    body: bytes


class TlsContexts:
    """SSL contexts built once each and shared by every client of a session.

    ``context`` raises OSError or ssl.SSLError for a CA file that cannot be used;
    ``ca_file_problem`` says so in words first (the config checks every CA file at load).
    """

    def __init__(self) -> None:
        self._contexts: dict[tuple[Path | None, bool], ssl.SSLContext] = {}

    def context(self, ca_file: Path | None = None, *, verify: bool = True) -> ssl.SSLContext:
        key = (ca_file if verify else None, verify)
        existing = self._contexts.get(key)
        if existing is not None:
            return existing
        context = ssl.create_default_context()
        if not verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        elif ca_file is not None:
            # Added to the system's CAs, not instead of them, as kubectl's certificate-authority.
            context.load_verify_locations(cafile=str(ca_file))
        self._contexts[key] = context
        return context


def ca_file_problem(path: Path) -> str | None:
    """Why ``path`` cannot serve as a CA file (missing, unreadable, no PEM certificate)."""
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile=str(path))
    except FileNotFoundError:
        return "no such file"
    except IsADirectoryError:
        return "a directory, not a file"
    except ssl.SSLError:
        return "no PEM certificate in it"
    except (OSError, UnicodeError) as error:
        return f"cannot read it ({type(error).__name__})"
    return None


_default_tls = TlsContexts()


def make_client(
    base_url: str,
    *,
    tls: ssl.SSLContext | None,
    settings: HttpSettings,
    proxy: str | None = None,
    use_environment: bool = True,
) -> httpx.AsyncClient:
    """An AsyncClient for one origin, configured as the module docstring says.

    ``tls`` None means the system trust store, from a context shared by the whole process.
    ``proxy`` (``http://host:port``) wins over the proxy variables of the environment, which
    ``use_environment=False`` ignores. A proxy httpx cannot use (``socks5://`` without its
    extra, an unknown scheme) raises NetworkFailure(PROXY) naming the problem.
    """
    origin = urlsplit(base_url)
    local = origin.scheme.lower() == "http" and is_loopback(origin.hostname or "")
    try:
        return _client(base_url, tls, settings, None if local else proxy,
                       use_environment and not local)
    except (ValueError, ImportError, httpx.InvalidURL) as error:
        raise NetworkFailure(
            FailureKind.PROXY, f"cannot use the proxy setting ({printable(str(error), 120)})"
        ) from None


def _client(
    base_url: str, tls: ssl.SSLContext | None, settings: HttpSettings, proxy: str | None,
    trust_env: bool,
) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=base_url,
        verify=tls if tls is not None else _default_tls.context(),
        proxy=proxy,
        trust_env=trust_env,  # the environment's proxies; TLS trust is the context's own
        follow_redirects=False,
        headers=BASE_HEADERS,
        timeout=httpx.Timeout(
            connect=settings.connect_timeout,
            read=settings.read_timeout,
            write=settings.read_timeout,
            pool=settings.request_deadline,
        ),
        limits=httpx.Limits(
            max_connections=settings.max_connections,
            max_keepalive_connections=settings.max_connections,
            keepalive_expiry=settings.keepalive_expiry,
        ),
    )


async def fetch(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    settings: HttpSettings,
    *,
    headers: dict[str, str] | None = None,
    content: bytes | None = None,
    params: dict[str, str] | None = None,
) -> HttpAnswer:
    """One exchange, the body read under the size cap, within the total deadline.

    Raises NetworkFailure for anything below HTTP. A GET alone may be sent a second time,
    when it went out on a reused connection that closed before the answer began (the server
    had just dropped it); nothing else is ever resent, whatever happened.
    """
    attempts = 2 if method == "GET" else 1
    try:
        async with asyncio.timeout(settings.request_deadline) as deadline:
            for attempt in range(1, attempts + 1):
                tracker = _ConnectionTracker() if method == "GET" else None
                try:
                    return await _exchange(
                        client, method, url, settings, headers, content, params, tracker
                    )
                except _NoAnswer as failure:
                    reused = tracker is not None and not tracker.new_connection
                    if attempt < attempts and reused:
                        continue
                    raise describe(failure.error) from None
    except TimeoutError:
        if not deadline.expired():
            raise
        raise NetworkFailure(
            FailureKind.TIMEOUT, f"no complete answer within {settings.request_deadline:g} s"
        ) from None
    raise AssertionError("unreachable")  # pragma: no cover


class _NoAnswer(Exception):
    """The request went out and the connection ended before any answer (kept for a retry)."""

    def __init__(self, error: httpx.HTTPError) -> None:
        self.error = error


class _ConnectionTracker:
    """Learns from httpcore's ``trace`` extension whether a request opened a connection."""

    __slots__ = ("new_connection",)

    def __init__(self) -> None:
        self.new_connection = False

    async def __call__(self, event: str, info: dict[str, Any]) -> None:
        if event.endswith("connect_tcp.started"):
            self.new_connection = True


async def _exchange(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    settings: HttpSettings,
    headers: dict[str, str] | None,
    content: bytes | None,
    params: dict[str, str] | None,
    tracker: _ConnectionTracker | None,
) -> HttpAnswer:
    extensions = {"trace": tracker} if tracker is not None else None
    try:
        request = client.build_request(
            method, url, headers=headers, content=content, params=params, extensions=extensions
        )
        response = await client.send(request, stream=True)
    except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as error:
        if describe(error).kind is FailureKind.NO_ANSWER:
            raise _NoAnswer(error) from None
        raise describe(error) from None
    except httpx.HTTPError as error:
        raise describe(error) from None
    except (httpx.InvalidURL, UnicodeError) as error:
        # An address httpx cannot encode (the vault's are checked first; this is the net).
        raise NetworkFailure(
            FailureKind.OTHER, f"the address cannot be used ({type(error).__name__})"
        ) from None
    try:
        declared = response.headers.get("content-length", "")
        limit = settings.max_response_bytes
        # isascii: "²".isdigit() is true, and int() refuses it.
        if declared.isascii() and declared.isdigit() and int(declared) > limit:
            raise NetworkFailure(FailureKind.TOO_LARGE, _too_large(settings))
        body = bytearray()
        async for chunk in response.aiter_raw():
            body += chunk
            if len(body) > limit:
                raise NetworkFailure(FailureKind.TOO_LARGE, _too_large(settings))
        return HttpAnswer(response.status_code, response.headers, bytes(body))
    except httpx.HTTPError as error:
        raise describe(error, answer_started=True) from None
    finally:
        await response.aclose()


def _too_large(settings: HttpSettings) -> str:
    return f"more than {settings.max_response_bytes // (1024 * 1024)} MiB"


def shown_proxy(proxy: str) -> str:
    """A proxy URL as it may be shown: scheme, host and port, never a user or password."""
    parts = urlsplit(proxy)
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return printable(f"{parts.scheme}://{parts.hostname or '?'}{port}", 100)


def describe(error: BaseException, *, answer_started: bool = False) -> NetworkFailure:
    """What went wrong, in the operator's words: DNS, refused, no route, TLS, timeout, ...

    ``answer_started``: the error came while the answer's body was read, so a closed or
    reset connection broke an answer rather than leaving the request unanswered.
    """
    if isinstance(error, NetworkFailure):
        return error
    if isinstance(error, httpx.ConnectTimeout):
        return NetworkFailure(FailureKind.CONNECT_TIMEOUT)
    if isinstance(error, (httpx.ConnectError, httpx.ProxyError)) or not isinstance(
        error, httpx.HTTPError
    ):
        # Only a failure to connect is read from its causes (DNS, refused, TLS...): once the
        # request is out, what is left in the chain (an SSLWantReadError from a read that
        # timed out, an errno) says nothing of how the exchange ended, the type does.
        found = _from_causes(error)
        if found is not None:
            return found
    if isinstance(error, httpx.ProxyError):
        return NetworkFailure(FailureKind.PROXY, printable(str(error), 80))
    if isinstance(error, httpx.TimeoutException):
        return NetworkFailure(FailureKind.TIMEOUT, "waiting for the server")
    if isinstance(error, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)):
        if answer_started:
            return NetworkFailure(FailureKind.BROKE)
        if isinstance(error, httpx.RemoteProtocolError) and _is_parse_error(error):
            return NetworkFailure(FailureKind.PROTOCOL, "the answer is not well-formed HTTP/1.1")
        return NetworkFailure(FailureKind.NO_ANSWER)
    if isinstance(error, httpx.LocalProtocolError):
        # A header value with a line break, say: h11 refused to send it, which is the point.
        return NetworkFailure(FailureKind.OTHER, "refused to send a malformed request")
    if isinstance(error, httpx.ProtocolError):
        return NetworkFailure(FailureKind.PROTOCOL)
    return NetworkFailure(FailureKind.OTHER, type(error).__name__)


def _is_parse_error(error: httpx.RemoteProtocolError) -> bool:
    # httpx wraps httpcore's error, which was raised while handling h11's when the bytes
    # could not be parsed; when the server simply hung up, httpcore's error stands alone.
    inner = error.__cause__
    return inner is not None and (inner.__cause__ or inner.__context__) is not None


# Several addresses may fail at once (Happy Eyeballs): the most telling failure wins.
_PRIORITY = (
    FailureKind.TLS_UNTRUSTED,
    FailureKind.TLS_FAILED,
    FailureKind.DNS,
    FailureKind.REFUSED,
    FailureKind.CONNECT_TIMEOUT,
    FailureKind.NO_ROUTE,
)

_OS_KINDS = {
    errno.ECONNREFUSED: FailureKind.REFUSED,
    errno.EHOSTUNREACH: FailureKind.NO_ROUTE,
    errno.ENETUNREACH: FailureKind.NO_ROUTE,
    errno.EADDRNOTAVAIL: FailureKind.NO_ROUTE,
    errno.ETIMEDOUT: FailureKind.CONNECT_TIMEOUT,
}


def _from_causes(error: BaseException) -> NetworkFailure | None:
    """The best NetworkFailure found in ``error``'s causes and exception groups."""
    found: dict[FailureKind, NetworkFailure] = {}
    pending: list[BaseException] = [error]
    seen: set[int] = set()
    while pending and len(seen) < 32:
        cause = pending.pop()
        if id(cause) in seen:
            continue
        seen.add(id(cause))
        failure = _os_failure(cause)
        if failure is not None:
            found.setdefault(failure.kind, failure)
        if isinstance(cause, BaseExceptionGroup):
            pending.extend(cause.exceptions)
        for nested in (cause.__cause__, cause.__context__):
            if nested is not None:
                pending.append(nested)
    for kind in _PRIORITY:
        if kind in found:
            return found[kind]
    return None


def _os_failure(cause: BaseException) -> NetworkFailure | None:
    if isinstance(cause, (ssl.SSLWantReadError, ssl.SSLWantWriteError)):
        return None  # "not yet", left behind by a wait that ended otherwise: not a failure
    if isinstance(cause, ssl.SSLCertVerificationError):
        message = printable(cause.verify_message or "verification failed", 200)
        return NetworkFailure(FailureKind.TLS_UNTRUSTED, message)
    if isinstance(cause, ssl.SSLError):
        return NetworkFailure(FailureKind.TLS_FAILED, printable(str(cause.reason or ""), 100))
    if isinstance(cause, socket.gaierror):
        return NetworkFailure(FailureKind.DNS)
    if isinstance(cause, OSError) and cause.errno is not None:
        kind = _OS_KINDS.get(cause.errno)
        if kind is not None:
            return NetworkFailure(kind)
    return None
