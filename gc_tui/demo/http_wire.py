"""HTTP/1.1 messages as the fake server sees them, and their wire format (no I/O here)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from functools import lru_cache
from http import HTTPStatus
from urllib.parse import parse_qsl, unquote, urlsplit

MAX_HEAD = 64 * 1024
MAX_BODY = 8 * 1024 * 1024


@dataclass
class Request:
    method: str
    target: str
    path: str  # percent-decoded, as sent (case kept)
    query: dict[str, str]  # the last value wins, blank values kept
    headers: dict[str, str]  # lower-case names
    body: bytes


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str | None = "application/json; charset=utf-8"
    headers: list[tuple[str, str]] = field(default_factory=list)
    # A streamed body; ``content_length`` must then be set.
    chunks: AsyncIterator[bytes] | None = None
    # Declared length when it must differ from the body (the "truncated" fault).
    content_length: int | None = None
    drip_interval: float = 0.0  # > 0: send the body one byte at a time
    close_after: bool = False
    # Run once the response is written or the write failed (releases the 429 lock).
    on_finished: list[Callable[[], None]] = field(default_factory=list)


Handler = Callable[[Request], Awaitable[Response]]


class BadRequest(Exception):
    pass


@dataclass(frozen=True, slots=True)
class RequestHead:
    """A parsed request head whose body may still be on its way."""

    method: str
    target: str
    headers: dict[str, str]
    body_length: int
    keep_alive: bool  # as asked by the client; the response may still close

    def request(self, body: bytes) -> Request:
        path, query = _split_target(self.target)
        return Request(self.method, self.target, path, query, self.headers, body)


def parse_head(head: bytes | bytearray) -> RequestHead:
    """The request line and headers (``head`` ends with the blank line), or BadRequest."""
    try:
        text = head.decode("latin-1")
        request_line, *header_lines = text.split("\r\n")
        method, target, version = request_line.split(" ", 2)
    except ValueError:
        raise BadRequest from None
    headers: dict[str, str] = {}
    for line in header_lines:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise BadRequest
        headers[name.strip().lower()] = value.strip()
    keep_alive = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
    return RequestHead(method.upper(), target, headers, _body_length(headers), keep_alive)


def _body_length(headers: dict[str, str]) -> int:
    if "transfer-encoding" in headers:
        raise BadRequest  # not needed by any client we test; refuse rather than guess
    try:
        length = int(headers.get("content-length", "0"))
    except ValueError:
        raise BadRequest from None
    if length < 0 or length > MAX_BODY:
        raise BadRequest
    return length


def _split_target(target: str) -> tuple[str, dict[str, str]]:
    # Nearly every target is a plain absolute path; urlsplit and friends cost more than the
    # rest of the parsing, so they only run when the target needs them.
    if target[:1] == "/" and target[:2] != "//" and not any(c in target for c in "?#%\t\r\n"):
        return target, {}
    parts = urlsplit(target)
    return unquote(parts.path), dict(parse_qsl(parts.query, keep_blank_values=True))


@lru_cache(maxsize=64)
def _status_line(status: int) -> str:
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Unknown"
    return f"HTTP/1.1 {status} {reason}"


def encode_head(response: Response, length: int, keep_alive: bool) -> bytes:
    lines = [_status_line(response.status)]
    if response.content_type is not None:
        lines.append(f"Content-Type: {response.content_type}")
    lines.extend(f"{name}: {value}" for name, value in response.headers)
    lines.append(f"Content-Length: {length}")
    lines.append("Connection: keep-alive" if keep_alive else "Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def plain_response(status: int, text: str) -> Response:
    return Response(status, text.encode(), "text/plain; charset=utf-8")
