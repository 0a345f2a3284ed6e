"""The registry's bearer challenge and the tokens that answer it.

A registry answers an anonymous request with ``401`` and ``WWW-Authenticate: Bearer realm=…,
service=…,scope=…``; the client asks the realm for a token (anonymously, or with Basic
credentials for private images) and sends the request again with ``Authorization: Bearer``.
Tokens are kept per realm, service and scope until shortly before they expire, so one run asks
once per repository; ``Authorizer`` holds that state for a client, and sends credentials only
to their own host's token realm, over HTTPS or loopback. docs/registries.md ("The bearer-token
dance") has the sources.
"""

from __future__ import annotations

import asyncio
import base64
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from gc_tui.core.registry_answers import Answer, origin_of, raise_for_status
from gc_tui.core.registry_config import RegistryCredentials
from gc_tui.core.registry_errors import LookupProblem, RegistryError
from gc_tui.core.registry_ref import RegistryLocation, allowed_origin, locate
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


class Send(Protocol):
    """How the client sends one request (rate limits and all): the token request uses it."""

    def __call__(
        self,
        origin: str,
        method: str,
        url: str,
        headers: dict[str, str],
        *,
        params: dict[str, str] | None = None,
    ) -> Awaitable[Answer]: ...


class Authorizer:
    """What a client knows about logging in to each registry: the challenge each (origin,
    scope) sent, tokens, and the credentials for each host. Credentials go to the token
    realm (or, for a Basic challenge, to the registry) of their own host only."""

    def __init__(
        self, credentials: Mapping[str, RegistryCredentials], mirrors: Mapping[str, str]
    ) -> None:
        self._credentials = credentials
        self._mirrors = mirrors
        self._known: dict[tuple[str, str], tuple[Challenge, str]] = {}  # (origin, scope) ->
        self._tokens = TokenCache()
        self._token_requests: dict[TokenKey, asyncio.Future[str]] = {}

    def cancel(self) -> None:
        """Stop token requests still running (the client is closing)."""
        for pending in list(self._token_requests.values()):
            pending.cancel()

    def pending(self) -> int:
        """How many token requests are running."""
        return len(self._token_requests)

    def remembered(self, origin: str, scope: str) -> str | None:
        """The Authorization value a request can carry at once: no challenge round trip."""
        known = self._known.get((origin, scope))
        if known is None:
            return None
        challenge, key_scope = known
        if challenge.scheme == "basic":
            return self._basic(origin)
        token = self._tokens.get(self._token_key(origin, challenge, key_scope))
        return f"Bearer {token.value.reveal()}" if token else None

    def _credentials_for(self, origin: str) -> RegistryCredentials | None:
        for host, credentials in self._credentials.items():
            if locate(f"{host}/x", self._mirrors).origin == origin:
                return credentials
        return None

    def _basic(self, origin: str) -> str | None:
        credentials = self._credentials_for(origin)
        if credentials is None:
            return None
        pair = f"{credentials.username}:{credentials.password.reveal()}".encode()
        return "Basic " + base64.b64encode(pair).decode("ascii")

    def _token_key(self, origin: str, challenge: Challenge, scope: str) -> TokenKey:
        credentials = self._credentials_for(origin)
        user = credentials.username if credentials else ""
        return (challenge.realm, challenge.service or "", scope, user)

    async def answer(
        self,
        location: RegistryLocation,
        challenge: Challenge | None,
        scope: str,
        *,
        renew: bool,
        send: Send,
    ) -> str:
        """The Authorization value answering ``challenge``: Basic, or a (new) bearer token."""
        origin = location.origin
        if challenge is None:
            raise RegistryError(
                LookupProblem.DENIED, "the registry wants a login gc-tui cannot give"
            )
        if challenge.scheme == "basic":
            basic = self._basic(origin)
            if basic is None:
                raise RegistryError(
                    LookupProblem.DENIED, f"{location.host} needs credentials (vault_entry)"
                )
            self._known[(origin, scope)] = (challenge, scope)
            return basic
        if not allowed_origin(challenge.realm):
            raise RegistryError(LookupProblem.DENIED, "the token service is not on HTTPS")
        token_scope = challenge.scope or scope
        key = self._token_key(origin, challenge, token_scope)
        if renew:
            self._tokens.drop(key)
        token = self._tokens.get(key)
        value = token.value.reveal() if token else await self._shared_token(origin, key, send)
        self._known[(origin, scope)] = (challenge, token_scope)
        return f"Bearer {value}"

    async def _shared_token(self, origin: str, key: TokenKey, send: Send) -> str:
        """One token request per key at a time; concurrent callers share its answer."""
        pending = self._token_requests.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._fetch_token(origin, key, send))
            self._token_requests[key] = pending
            pending.add_done_callback(self._token_request_done)
        return await asyncio.shield(pending)

    def _token_request_done(self, pending: asyncio.Future[str]) -> None:
        for key, known in list(self._token_requests.items()):
            if known is pending:
                del self._token_requests[key]
        # Every waiter may have been cancelled: retrieve the outcome here, so asyncio never
        # reports an unretrieved exception on stderr.
        if not pending.cancelled():
            pending.exception()

    async def _fetch_token(self, origin: str, key: TokenKey, send: Send) -> str:
        realm, service, scope, _user = key
        params = {"scope": scope}
        if service:
            params["service"] = service
        headers: dict[str, str] = {}
        basic = self._basic(origin)
        if basic is not None:
            headers["Authorization"] = basic
        answer = await send(origin_of(realm), "GET", realm, headers, params=params)
        if answer.status in (401, 403):
            raise RegistryError(LookupProblem.DENIED, "the token service refused the credentials")
        raise_for_status(answer, "the token")
        token = token_from_answer(answer.body, self._tokens.now())
        if token is None:
            raise RegistryError(LookupProblem.REGISTRY_ERROR, "the token service sent no token")
        self._tokens.put(key, token)
        return token.value.reveal()
