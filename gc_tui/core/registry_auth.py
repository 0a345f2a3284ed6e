"""The registry's bearer challenge and the tokens that answer it.

A registry answers an anonymous request with ``401`` and ``WWW-Authenticate: Bearer realm=…,
service=…,scope=…``; the client asks the realm for a token (anonymously, or with Basic
credentials for private images) and sends the request again with ``Authorization: Bearer``.
Tokens are kept per realm, service and scope until shortly before they expire, so one run asks
once per repository. docs/registries.md ("The bearer-token dance") has the sources.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from gc_tui.core.secret import Secret

# RFC 7235 auth-params: name=token or name="quoted string" (the scope holds commas).
_PARAM = re.compile(r'\s*([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]*))\s*,?')
# A token that omits expires_in lives 60 s (the token spec); renew a little before the end.
_DEFAULT_LIFETIME = 60.0
_MARGIN = 10.0


@dataclass(frozen=True)
class Challenge:
    """One ``WWW-Authenticate`` challenge."""

    scheme: str  # "bearer" or "basic", lower-case
    realm: str
    service: str | None = None
    scope: str | None = None
    error: str | None = None  # "insufficient_scope" when a token was not enough


def parse_challenge(header: str | None) -> Challenge | None:
    """The Bearer or Basic challenge of a ``WWW-Authenticate`` value; None for anything else."""
    if not header:
        return None
    scheme, _, rest = header.strip().partition(" ")
    scheme = scheme.lower()
    if scheme not in ("bearer", "basic"):
        return None
    params: dict[str, str] = {}
    position = 0
    while position < len(rest):
        match = _PARAM.match(rest, position)
        if match is None or match.end() == position:
            break
        quoted, bare = match[2], match[3]
        value = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else bare or ""
        params[match[1].lower()] = value
        position = match.end()
    realm = params.get("realm", "")
    if scheme == "bearer" and not realm:
        return None
    return Challenge(scheme, realm, params.get("service"), params.get("scope"), params.get("error"))


@dataclass(frozen=True)
class Token:
    value: Secret = field(repr=False)
    expires_at: float  # time.monotonic() seconds


def token_from_answer(body: bytes, now: float) -> Token | None:
    """The token in a realm's JSON answer (``token`` or ``access_token``), or None."""
    try:
        document: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(document, dict):
        return None
    value = document.get("token") or document.get("access_token")
    if not isinstance(value, str) or not value:
        return None
    lifetime = document.get("expires_in")
    if isinstance(lifetime, bool) or not isinstance(lifetime, (int, float)) or lifetime <= 0:
        lifetime = _DEFAULT_LIFETIME
    return Token(Secret(value), now + max(float(lifetime) - _MARGIN, 1.0))


TokenKey = tuple[str, str, str, str]  # realm, service, scope, username ("" when anonymous)


class TokenCache:
    """Tokens by realm, service, scope and user, until shortly before they expire."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._tokens: dict[TokenKey, Token] = {}

    def get(self, key: TokenKey) -> Token | None:
        token = self._tokens.get(key)
        if token is None or token.expires_at <= self._clock():
            return None
        return token

    def put(self, key: TokenKey, token: Token) -> None:
        self._tokens[key] = token

    def drop(self, key: TokenKey) -> None:
        self._tokens.pop(key, None)

    def now(self) -> float:
        return self._clock()
