"""HTTP for every server gc-tui talks to (CapRover instances, image registries), on httpx.

httpx is configured here once, and every choice is deliberate (docs/network.md says why, with
its public sources):

- TLS is verified with ``ssl.create_default_context()``: the system trust store, plus whatever
  ``SSL_CERT_FILE`` and ``SSL_CERT_DIR`` name (OpenSSL reads them), plus an optional CA file.
  One context per CA file is shared by every client: building one costs tens of milliseconds.
- Proxies: ``trust_env`` lets ``HTTPS_PROXY``, ``HTTP_PROXY``, ``ALL_PROXY`` and ``NO_PROXY``
  work as in other tools; a proxy from the config wins over the environment.
- Redirects are never followed: a redirect would carry the admin token to another host.
- One ``AsyncClient`` per origin: httpcore looks through its whole pool on every request, so
  one client for a fleet of 200 costs quadratically.
- Idle connections expire after a few seconds: after a suspend, a VPN reconnect or a NAT
  timeout a pooled connection can be dead without either end knowing.
- The addresses of a host are raced (httpx's anyio backend does Happy Eyeballs), so a host
  whose IPv6 is black-holed still answers at once over IPv4.
- Every answer is read as a stream under a size cap, and every request has a total deadline.
- Only GET is ever sent twice, and only when a reused connection broke before any byte of the
  answer arrived. A request that changes a server (login, deploy, update) is sent once.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import httpx

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
    keepalive_expiry: float = 5.0
    max_connections: int = 4


class FailureKind(StrEnum):
    DNS = "name not found (DNS)"
    REFUSED = "connection refused"
    NO_ROUTE = "no route"
    CONNECT_TIMEOUT = "timed out connecting"
    TLS_UNTRUSTED = "TLS certificate not trusted"
    TLS_FAILED = "TLS handshake failed"
    PROXY = "proxy failed"
    TIMEOUT = "timed out"
    BROKE = "connection broke"
    TOO_LARGE = "answer too large"
    PROTOCOL = "not HTTP"
    OTHER = "network error"


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
    """SSL contexts built once each and shared by every client of a session."""

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
            context.load_verify_locations(cafile=str(ca_file))
        self._contexts[key] = context
        return context


def make_client(
    base_url: str,
    *,
    tls: ssl.SSLContext | None,
    settings: HttpSettings,
    proxy: str | None = None,
) -> httpx.AsyncClient:
    """An AsyncClient for one origin, configured as the module docstring says."""
    return httpx.AsyncClient(
        base_url=base_url,
        verify=tls if tls is not None else True,
        proxy=proxy,
        trust_env=True,
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

    Raises NetworkFailure for anything below HTTP. GET alone may be sent a second time, when
    the first attempt broke before any byte of an answer (a pooled connection the server had
    closed); nothing else is ever resent.
    """
    attempts = 2 if method == "GET" else 1
    for attempt in range(1, attempts + 1):
        try:
            async with asyncio.timeout(settings.request_deadline):
                return await _exchange(client, method, url, settings, headers, content, params)
        except TimeoutError:
            raise NetworkFailure(
                FailureKind.TIMEOUT, f"no complete answer within {settings.request_deadline:g} s"
            ) from None
        except _NothingReceived as nothing:
            if attempt < attempts:
                continue
            raise describe(nothing.error) from None
        except httpx.HTTPError as error:
            raise describe(error) from None
    raise AssertionError("unreachable")  # pragma: no cover


class _NothingReceived(Exception):
    def __init__(self, error: httpx.HTTPError) -> None:
        self.error = error


async def _exchange(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    settings: HttpSettings,
    headers: dict[str, str] | None,
    content: bytes | None,
    params: dict[str, str] | None,
) -> HttpAnswer:
    request = client.build_request(method, url, headers=headers, content=content, params=params)
    try:
        response = await client.send(request, stream=True)
    except (httpx.RemoteProtocolError, httpx.ReadError) as error:
        # The request went out on a connection that then closed with no answer at all.
        raise _NothingReceived(error) from None
    try:
        declared = response.headers.get("content-length", "")
        # isascii: "²".isdigit() is true, and int() refuses it.
        limit = settings.max_response_bytes
        if declared.isascii() and declared.isdigit() and int(declared) > limit:
            raise NetworkFailure(FailureKind.TOO_LARGE, _too_large(settings))
        body = bytearray()
        async for chunk in response.aiter_raw():
            body += chunk
            if len(body) > settings.max_response_bytes:
                raise NetworkFailure(FailureKind.TOO_LARGE, _too_large(settings))
        return HttpAnswer(response.status_code, response.headers, bytes(body))
    finally:
        await response.aclose()


def _too_large(settings: HttpSettings) -> str:
    return f"more than {settings.max_response_bytes // (1024 * 1024)} MiB"


def describe(error: BaseException) -> NetworkFailure:
    """What went wrong, in the operator's words: DNS, refused, no route, TLS, timeout, ..."""
    if isinstance(error, NetworkFailure):
        return error
    cause: BaseException | None = error
    seen = 0
    while cause is not None and seen < 8:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return NetworkFailure(
                FailureKind.TLS_UNTRUSTED, cause.verify_message or "verification failed"
            )
        if isinstance(cause, ssl.SSLError):
            return NetworkFailure(FailureKind.TLS_FAILED, str(cause.reason or ""))
        if isinstance(cause, OSError) and cause.errno is not None:
            kind = _OS_KINDS.get(cause.errno)
            if kind is not None:
                return NetworkFailure(kind)
        if type(cause).__name__ == "gaierror":
            return NetworkFailure(FailureKind.DNS)
        cause = cause.__cause__ or cause.__context__
        seen += 1
    if isinstance(error, httpx.ConnectTimeout):
        return NetworkFailure(FailureKind.CONNECT_TIMEOUT)
    if isinstance(error, httpx.ProxyError):
        return NetworkFailure(FailureKind.PROXY)
    if isinstance(error, httpx.TimeoutException):
        return NetworkFailure(FailureKind.TIMEOUT)
    if isinstance(error, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)):
        return NetworkFailure(FailureKind.BROKE)
    if isinstance(error, httpx.ProtocolError):
        return NetworkFailure(FailureKind.PROTOCOL)
    return NetworkFailure(FailureKind.OTHER, type(error).__name__)


_OS_KINDS = {
    111: FailureKind.REFUSED,  # ECONNREFUSED
    113: FailureKind.NO_ROUTE,  # EHOSTUNREACH
    101: FailureKind.NO_ROUTE,  # ENETUNREACH
    110: FailureKind.CONNECT_TIMEOUT,  # ETIMEDOUT
    -2: FailureKind.DNS,  # EAI_NONAME
    -3: FailureKind.DNS,  # EAI_AGAIN
    -5: FailureKind.DNS,  # EAI_NODATA
}
