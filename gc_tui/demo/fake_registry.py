"""An in-process OCI registry for the demo and the tests, with its token service.

It follows the distribution API and the token flow as docs/registries.md describes them (and
as Debian's distribution 2.8 answers, which the tests check side by side): a 401 with a
``Bearer realm,service,scope`` challenge, a token from the realm, ``tags/list``, manifests by
tag or digest whose media type must be in ``Accept`` (else 404, as distribution does for an
OCI index), ``Docker-Content-Digest`` on HEAD and GET, blobs, and ``NAME_UNKNOWN``.

What distribution 2.8 lacks, so that the client's handling of it can be tested:

- ``Link`` pagination as GHCR does it (``page_size=100``, oldest first, ``?n=`` honoured);
- Docker Hub's shapes: the token service on another origin, ``ratelimit-limit`` and
  ``ratelimit-remaining`` (``N;w=21600``) on manifest answers, a pull counted per manifest GET
  and not per HEAD, 429 past the quota, blobs redirected to another origin (a CDN);
- 429 with ``Retry-After`` on demand (``throttle``), private repositories needing Basic
  credentials at the token service, and latency injected into every answer;
- a per-path request counter (``requests``), so tests can assert what a lookup cost.
"""

from __future__ import annotations

import asyncio
import base64
import re
import secrets
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import parse_qsl, quote, urlsplit

import orjson

from gc_tui.demo.http_server import HttpServer, Request, Response
from gc_tui.demo.registry_store import RegistryStore

_PATH = re.compile(
    r"/v2/(?P<name>.+?)/(?:(?P<list>tags/list)|manifests/(?P<ref>[^/]+)|blobs/(?P<blob>[^/]+))"
)
_SCOPE = re.compile(r"repository:(?P<name>[^:]+):(?P<actions>[a-z,*]+)")


@dataclass(frozen=True)
class TokenRequest:
    """What the token service was asked: by whom, for which service and scopes."""

    service: str | None
    scopes: tuple[str, ...]
    user: str | None  # the Basic user, None when anonymous


@dataclass
class _Grant:
    repositories: frozenset[str]


@dataclass
class _Throttle:
    retry_after: str
    remaining: int  # how many more requests get the 429


def _error(
    status: int, code: str, message: str, headers: list[tuple[str, str]] | None = None
) -> Response:
    body = orjson.dumps({"errors": [{"code": code, "message": message, "detail": None}]})
    return Response(status, body, "application/json; charset=utf-8", headers=list(headers or []))


@dataclass
class FakeRegistry:
    """Serve ``store`` on loopback. Knobs are plain attributes, safe to change between requests."""

    store: RegistryStore = field(default_factory=RegistryStore)
    service: str = "fake-registry"
    # "separate": the token service and the blob CDN answer on a second origin, as on Docker Hub.
    token_origin: Literal["same", "separate"] = "same"
    page_size: int | None = None  # None: every tag at once (Docker Hub, distribution 2.8)
    max_page_size: int | None = None  # a larger ?n= is refused with 400, as Quay does
    order: Literal["lexical", "pushed"] = "lexical"  # "pushed": oldest first, as GHCR
    latency: float = 0.0  # seconds added to every answer
    pull_limit: int | None = None  # Docker Hub's anonymous quota, announced in headers
    pull_window: int = 21600
    blob_redirect: bool = False
    credentials: dict[str, str] = field(default_factory=dict)  # user -> password
    token_lifetime: int = 300
    digest_header: bool = True  # False: leave Docker-Content-Digest out, as old registries do
    host: str = "127.0.0.1"
    requests: Counter[str] = field(default_factory=Counter)  # "HEAD /v2/x/manifests/1" -> n
    token_requests: list[TokenRequest] = field(default_factory=list)
    leaked_authorization: list[str] = field(default_factory=list)  # CDN paths sent a token
    basic_auth_paths: list[str] = field(default_factory=list)  # where Basic credentials came
    most_at_once: int = 0  # most requests in their injected latency at the same time

    def __post_init__(self) -> None:
        self._server = HttpServer(self._handle_registry, host=self.host)
        self._side = HttpServer(self._handle_side, host=self.host)
        self._tokens: dict[str, _Grant] = {}
        self._pulls = 0
        self._throttle: _Throttle | None = None
        self._in_flight = 0

    # -- life ------------------------------------------------------------------------------

    async def start(self) -> FakeRegistry:
        await self._server.start_listening()
        if self.token_origin == "separate":
            await self._side.start_listening()
        return self

    async def stop(self) -> None:
        await self._server.stop_listening()
        await self._side.stop_listening()

    async def __aenter__(self) -> FakeRegistry:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        """The registry's origin, e.g. ``http://127.0.0.1:40123``."""
        return f"http://{self.host}:{self._server.port}"

    @property
    def side_url(self) -> str:
        return (
            f"http://{self.host}:{self._side.port}" if self.token_origin == "separate" else self.url
        )

    @property
    def realm(self) -> str:
        return f"{self.side_url}/token"

    def throttle(self, retry_after: str = "30", *, requests: int = 1_000_000) -> None:
        """The next ``requests`` requests (to either origin) answer 429 with ``Retry-After``."""
        self._throttle = _Throttle(retry_after, requests)

    def clear_throttle(self) -> None:
        self._throttle = None

    @property
    def pulls(self) -> int:
        return self._pulls

    def count(self, method: str, path_contains: str = "") -> int:
        return sum(
            n
            for key, n in self.requests.items()
            if key.startswith(f"{method} ") and path_contains in key
        )

    # -- shared ----------------------------------------------------------------------------

    async def _common(self, request: Request) -> Response | None:
        self.requests[f"{request.method} {request.path}"] += 1
        if request.headers.get("authorization", "").lower().startswith("basic "):
            self.basic_auth_paths.append(request.path)
        if self.latency:
            self._in_flight += 1
            self.most_at_once = max(self.most_at_once, self._in_flight)
            try:
                await asyncio.sleep(self.latency)
            finally:
                self._in_flight -= 1
        throttle = self._throttle
        if throttle is not None and throttle.remaining > 0:
            throttle.remaining -= 1
            return _error(
                429, "TOOMANYREQUESTS", "too many requests", [("Retry-After", throttle.retry_after)]
            )
        return None

    async def _handle_side(self, request: Request) -> Response:
        early = await self._common(request)
        if early is not None:
            return early
        return self._side_route(request)

    def _side_route(self, request: Request) -> Response:
        if request.path == "/token" and request.method == "GET":
            return self._token(request)
        if request.path.startswith("/cdn/") and request.method == "GET":
            if "authorization" in request.headers:
                self.leaked_authorization.append(request.path)
                return _error(400, "UNSUPPORTED", "the CDN takes no Authorization header")
            blob = self.store.blobs.get(request.path.removeprefix("/cdn/"))
            if blob is None:
                return _error(404, "BLOB_UNKNOWN", "blob unknown to registry")
            return Response(200, blob, "application/octet-stream")
        return _error(404, "NOT_FOUND", "not found")

    # -- tokens ----------------------------------------------------------------------------

    def _token(self, request: Request) -> Response:
        query = parse_qsl(urlsplit(request.target).query, keep_blank_values=True)
        scopes = tuple(value for key, value in query if key == "scope")
        service = next((value for key, value in query if key == "service"), None)
        user = self._basic_user(request)
        self.token_requests.append(TokenRequest(service, scopes, user or None))
        if user is False:
            return _error(401, "UNAUTHORIZED", "incorrect username or password")
        granted = set()
        for scope in scopes:
            match = _SCOPE.fullmatch(scope)
            if match is None or "pull" not in match["actions"].split(","):
                continue
            repository = self.store.repositories.get(match["name"])
            if repository is None or not repository.private or user:
                granted.add(match["name"])
        token = secrets.token_urlsafe(24)
        self._tokens[token] = _Grant(frozenset(granted))
        issued = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = {
            "token": token,
            "access_token": token,
            "expires_in": self.token_lifetime,
            "issued_at": issued,
        }
        return Response(200, orjson.dumps(body))

    def _basic_user(self, request: Request) -> str | Literal[False]:
        """The Basic user if the password is right, "" when there is none, False when wrong."""
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("basic "):
            return ""
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        if user and self.credentials.get(user) == password:
            return user
        return False

    def _challenge(self, name: str | None, error: str | None = None) -> Response:
        value = f'Bearer realm="{self.realm}",service="{self.service}"'
        if name is not None:
            value += f',scope="repository:{name}:pull"'
        if error is not None:
            value += f',error="{error}"'
        return _error(401, "UNAUTHORIZED", "authentication required", [("WWW-Authenticate", value)])

    def _granted(self, request: Request, name: str | None) -> Response | None:
        header = request.headers.get("authorization", "")
        grant = self._tokens.get(header[7:]) if header.lower().startswith("bearer ") else None
        if grant is None:
            return self._challenge(name)
        if name is not None and name not in grant.repositories:
            return self._challenge(name, "insufficient_scope")
        return None

    # -- the registry API ------------------------------------------------------------------

    async def _handle_registry(self, request: Request) -> Response:
        response = await self._registry_route(request)
        if request.method == "HEAD" and response.body:
            # A HEAD answer declares the body's length but never carries it.
            response.content_length = len(response.body)
            response.body = b""
        return response

    async def _registry_route(self, request: Request) -> Response:
        early = await self._common(request)
        if early is not None:
            return early
        if request.path == "/token" and self.token_origin == "same":
            return self._token(request)
        if request.path in ("/v2/", "/v2"):
            return self._granted(request, None) or Response(200, b"{}")
        match = _PATH.fullmatch(request.path)
        if match is None or request.method not in ("GET", "HEAD"):
            return _error(404, "NOT_FOUND", "not found")
        name = match["name"]
        refused = self._granted(request, name)
        if refused is not None:
            return refused
        repository = self.store.repositories.get(name)
        if repository is None:
            return _error(404, "NAME_UNKNOWN", "repository name not known to registry")
        if match["list"]:
            return self._tags(request, name, list(repository.tags))
        if match["ref"]:
            reference = match["ref"]
            digest = repository.tags.get(
                reference, reference if reference.startswith("sha256:") else ""
            )
            return self._manifest(request, digest)
        return self._blob(request, match["blob"])

    def _tags(self, request: Request, name: str, tags: list[str]) -> Response:
        ordered = tags if self.order == "pushed" else sorted(tags)
        headers: list[tuple[str, str]] = []
        if self.page_size is not None:
            size = self.page_size
            asked = request.query.get("n", "")
            if asked.isdigit():
                size = int(asked)
                if self.max_page_size is not None and size > self.max_page_size:
                    return _error(400, "TOO_MANY_TAGS_REQUESTED", "too many tags requested")
            last = request.query.get("last")
            start = ordered.index(last) + 1 if last in ordered else 0
            page = ordered[start : start + size]
            if start + size < len(ordered) and page:
                link = f"/v2/{name}/tags/list?last={quote(page[-1])}&n={size}"
                headers.append(("Link", f'<{link}>; rel="next"'))
            ordered = page
        return Response(200, orjson.dumps({"name": name, "tags": ordered}), headers=headers)

    def _manifest(self, request: Request, digest: str) -> Response:
        stored = self.store.manifests.get(digest)
        if stored is None:
            return _error(404, "MANIFEST_UNKNOWN", "manifest unknown")
        media_type, content = stored
        accepted = {
            part.split(";")[0].strip() for part in request.headers.get("accept", "").split(",")
        }
        if media_type not in accepted:
            return _error(404, "MANIFEST_UNKNOWN", "manifest unknown to registry")
        headers = [("Docker-Distribution-Api-Version", "registry/2.0")]
        if self.digest_header:
            headers.append(("Docker-Content-Digest", digest))
        if self.pull_limit is not None:
            if request.method == "GET":
                if self._pulls >= self.pull_limit:
                    return _error(
                        429,
                        "TOOMANYREQUESTS",
                        "You have reached your pull rate limit.",
                        self._quota(),
                    )
                self._pulls += 1
            headers += self._quota()
        if request.method == "HEAD":
            return Response(200, b"", media_type, headers=headers, content_length=len(content))
        return Response(200, content, media_type, headers=headers)

    def _quota(self) -> list[tuple[str, str]]:
        assert self.pull_limit is not None
        remaining = max(self.pull_limit - self._pulls, 0)
        return [
            ("ratelimit-limit", f"{self.pull_limit};w={self.pull_window}"),
            ("ratelimit-remaining", f"{remaining};w={self.pull_window}"),
            ("docker-ratelimit-source", self.host),
        ]

    def _blob(self, request: Request, digest: str) -> Response:
        blob = self.store.blobs.get(digest)
        if blob is None:
            return _error(404, "BLOB_UNKNOWN", "blob unknown to registry")
        if self.blob_redirect:
            return Response(307, b"", None, headers=[("Location", f"{self.side_url}/cdn/{digest}")])
        if request.method == "HEAD":
            return Response(200, b"", "application/octet-stream", content_length=len(blob))
        return Response(200, blob, "application/octet-stream")
