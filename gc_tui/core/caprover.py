"""Async client for one CapRover server's HTTP API (v2), over ``core/http.py``'s httpx.

Every HTTP detail of CapRover lives here: paths, headers, the response envelope, status codes
and what each means for the caller. Callers get domain values (AppInfo, VersionInfo,
BuildStatus) or a CapRoverError whose message names the instance and says what came back.
The CapRover facts relied on are in docs/caprover.md, the network's in docs/network.md.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import orjson

from gc_tui.core.app_definitions import MalformedApp, parse_app
from gc_tui.core.hosts import sends_in_clear
from gc_tui.core.http import (
    FailureKind,
    HttpAnswer,
    HttpSettings,
    NetworkFailure,
    fetch,
    shown_proxy,
)
from gc_tui.core.model import AppInfo, Instance, InstanceStatus, VersionInfo
from gc_tui.core.text import printable
from gc_tui.core.totp import totp_code

API = "/api/v2"

# CapRover status codes (src/api/ApiStatusCodes.ts).
OK = 100
OK_DEPLOY_STARTED = 101
OK_PARTIALLY = 102
NOT_READY = 1001
WRONG_PASSWORD = 1105
TOKEN_INVALID = 1106
PASSWORD_BACK_OFF = 1113
OTP_REQUIRED = 1114
_SUCCESS = {OK, OK_DEPLOY_STARTED, OK_PARTIALLY}

_HEADERS = {"Accept": "application/json", "x-namespace": "captain"}
# The request went out, and what became of it is unknown.
_MAYBE_DELIVERED = frozenset({FailureKind.NO_ANSWER, FailureKind.TIMEOUT, FailureKind.BROKE})
# Unauthenticated and constant on a real server: cheap enough to open a connection with.
_HEALTH_PATH = "/checkhealth"


class CapRoverError(Exception):
    """A failure talking to one instance; ``str()`` is one readable line, never a secret."""

    status: InstanceStatus = InstanceStatus.ERROR

    def __init__(self, instance: str, message: str) -> None:
        super().__init__(f"{instance}: {message}")
        self.instance = instance
        self.reason = message


class Unreachable(CapRoverError):
    status = InstanceStatus.UNREACHABLE


class PlainHttpRefused(CapRoverError):
    """The password would cross the network unencrypted; nothing was sent or connected."""


class TlsFailure(CapRoverError):
    status = InstanceStatus.TLS_ERROR


class WrongPassword(CapRoverError):
    status = InstanceStatus.AUTH_FAILED


class OtpRequired(CapRoverError):
    status = InstanceStatus.OTP_REQUIRED


class LockedOut(CapRoverError):
    status = InstanceStatus.LOCKED_OUT


class TokenInvalid(CapRoverError):
    """1106: the token is stale (restart, update, password change); one re-login fixes it."""


class NotReady(CapRoverError):
    """1001: the server is starting (after a restart or a self-update)."""


class Busy(CapRoverError):
    """HTTP 429: another write is in flight on this server; retry later."""


class ServerDown(CapRoverError):
    """HTTP 502/503/504 from nginx: CapRover itself is restarting or not answering."""


class BadResponse(CapRoverError):
    """An answer that is not CapRover's envelope: HTML, empty, truncated, a redirect, a 5xx."""


class NoAnswer(BadResponse):
    """A request that changes the server went out and no whole answer came back (closed,
    broken mid-answer): unlike a complete bad answer, it may have reached CapRover."""


class ApiError(CapRoverError):
    """A well-formed envelope with an error status that has no more specific meaning."""

    def __init__(self, instance: str, code: int, description: str) -> None:
        super().__init__(instance, f"CapRover answered {code}: {printable(description, 300)}")
        self.code = code
        self.description = description


@dataclass(frozen=True)
class BuildStatus:
    is_building: bool
    is_failed: bool
    lines: tuple[str, ...]  # the non-empty lines of CapRover's 50-line window, oldest first
    first_line_number: int


class CapRoverClient:
    """One instance's API. Holds its token in memory only; never retries a wrong password."""

    def __init__(
        self,
        instance: Instance,
        http: httpx.AsyncClient,
        settings: HttpSettings,
        *,
        failure: CapRoverError | None = None,
    ) -> None:
        """``failure``: set-up went wrong (an unusable CA file); every call raises it."""
        self.instance = instance
        self._setup_failure = failure
        self._http = http
        self._settings = settings
        self._token: str | None = None
        self._login_lock = asyncio.Lock()
        # A failed login is remembered for the rest of the action: CapRover locks every
        # administrator out after 5 failures in 30 s, so a second attempt is never automatic.
        self._login_failure: CapRoverError | None = None

    @property
    def name(self) -> str:
        return self.instance.name

    def forget_credentials(self) -> None:
        """Drop the token and any remembered failure (the idle lock calls this)."""
        self._token = None
        self._login_failure = None

    async def aclose(self) -> None:
        await self._http.aclose()

    async def preconnect(self, connections: int) -> None:
        """Open up to ``connections`` connections now, for requests that will follow.

        httpx has no call that only connects, so each extra connection is opened by a GET of
        CapRover's health check, whose answer is dropped; the first connection is the
        caller's own next request. Never raises for the network: a failure here is met
        again, and reported, by the request that needed the connection. Nothing is opened
        for an instance whose password may not be sent (see ``plain_http_refusal``).
        """
        if connections < 2 or self._refusal() is not None:
            return
        warm_ups = [
            fetch(self._http, "GET", _HEALTH_PATH, self._settings)
            for _ in range(min(connections, self._settings.max_connections) - 1)
        ]
        await asyncio.gather(*warm_ups, return_exceptions=True)

    def _refusal(self) -> CapRoverError | None:
        return self._setup_failure or self.plain_http_refusal()

    def plain_http_refusal(self) -> PlainHttpRefused | None:
        """Why the password must not be sent to this instance at all, if it must not.

        Over ``http://`` it would cross the network in clear; only a loopback host (an SSH
        tunnel, the demo) or the config's ``allow_plain_http`` for this instance makes that
        acceptable. CapRover's first set-up answers on ``http://IP:3000``, so vault entries
        saved then look exactly like this.
        """
        if self.instance.allow_plain_http or not sends_in_clear(self.instance.url):
            return None
        return PlainHttpRefused(
            self.name,
            f"refusing to send the password in clear over {self.instance.url}; "
            "use https:// or set allow_plain_http for this instance",
        )

    # -- authentication ------------------------------------------------------------------

    async def login(self) -> None:
        """Log in once; later calls reuse the token. Raises the first failure again."""
        async with self._login_lock:
            if self._token is not None:
                return
            if self._login_failure is not None:
                raise self._login_failure
            try:
                self._token = await self._login_request()
            except (WrongPassword, OtpRequired, LockedOut, ApiError) as failure:
                self._login_failure = failure
                raise

    async def relogin(self, stale_token: str | None) -> None:
        """After a 1106: log in again unless another task already did."""
        async with self._login_lock:
            if self._token is not None and self._token != stale_token:
                return
            self._token = None
        await self.login()

    async def _login_request(self) -> str:
        refusal = self._refusal()
        if refusal is not None:
            raise refusal
        if self.instance.password is None:
            raise WrongPassword(self.name, "the vault entry has no password")
        body: dict[str, str] = {"password": self.instance.password.reveal()}
        if self.instance.totp is not None:
            spec = self.instance.totp
            try:
                body["otpToken"] = totp_code(
                    spec.secret.reveal(),
                    digits=spec.digits,
                    period=spec.period,
                    algorithm=spec.algorithm,
                )
            except ValueError as err:
                raise OtpRequired(
                    self.name, f"the vault entry's TOTP seed is unusable: {err}"
                ) from None
        code, description, data = await self._call("POST", "/login", json_body=body, auth=False)
        del body
        if code == OK:
            token = data.get("token")
            if not isinstance(token, str) or not token:
                raise BadResponse(self.name, "login succeeded but no token came back")
            if not (token.isascii() and token.isprintable()) or " " in token:
                # It goes back in a header: a line break in it would forge one.
                raise BadResponse(self.name, "login succeeded but the token is malformed")
            return token
        if code == WRONG_PASSWORD:
            raise WrongPassword(
                self.name, "wrong password or OTP code (CapRover 1105); not retried"
            )
        if code == OTP_REQUIRED:
            raise OtpRequired(
                self.name, "two-factor login is on: add the TOTP seed to the vault entry"
            )
        if code == NOT_READY:
            raise NotReady(self.name, "CapRover is starting (1001: not ready yet)")
        if code == PASSWORD_BACK_OFF:
            raise LockedOut(
                self.name,
                "too many wrong passwords: CapRover refuses every login for 30 s after "
                "the first of 5 failures; wait 30 seconds and try again",
            )
        raise ApiError(self.name, code, description)

    # -- reading -------------------------------------------------------------------------

    async def app_definitions(self) -> tuple[AppInfo, ...]:
        data = await self._authed("GET", "/user/apps/appDefinitions")
        raw_apps = data.get("appDefinitions")
        if not isinstance(raw_apps, list):
            raise BadResponse(self.name, "appDefinitions is missing from the answer")
        try:
            return tuple(parse_app(raw) for raw in raw_apps)
        except MalformedApp as malformed:
            raise BadResponse(self.name, str(malformed)) from None

    async def version_info(self) -> VersionInfo:
        data = await self._authed("GET", "/user/system/versionInfo")
        current = data.get("currentVersion")
        latest = data.get("latestVersion", current)
        if not isinstance(current, str) or not isinstance(latest, str):
            raise BadResponse(self.name, "versionInfo has no currentVersion")
        return VersionInfo(
            current=current, latest=latest, can_update=bool(data.get("canUpdate", False))
        )

    async def build_status(self, app: str) -> BuildStatus:
        data = await self._authed("GET", f"/user/apps/appData/{_app_path(app)}")
        logs = data.get("logs") if isinstance(data.get("logs"), dict) else {}
        assert isinstance(logs, dict)
        raw_lines = logs.get("lines", [])
        if not isinstance(raw_lines, list):
            raw_lines = []
        lines = tuple(str(line) for line in raw_lines if line)
        first = logs.get("firstLineNumber", 0)
        return BuildStatus(
            is_building=bool(data.get("isAppBuilding")),
            is_failed=bool(data.get("isBuildFailed")),
            lines=lines,
            first_line_number=first if isinstance(first, int) else 0,
        )

    # -- writing -------------------------------------------------------------------------

    async def deploy_image(self, app: str, image: str) -> None:
        """Start a detached "Deploy via ImageName"; raises Busy on HTTP 429."""
        definition = json.dumps({"schemaVersion": 2, "imageName": image})
        await self._authed(
            "POST",
            f"/user/apps/appData/{_app_path(app)}",
            json_body={"captainDefinitionContent": definition, "gitHash": ""},
            params={"detached": "1"},
        )

    async def start_caprover_update(self, latest_version: str) -> None:
        """Ask CapRover to pull and switch to ``latest_version``; it restarts afterwards."""
        await self._authed(
            "POST", "/user/system/versionInfo", json_body={"latestVersion": latest_version}
        )

    # -- plumbing ------------------------------------------------------------------------

    async def _authed(
        self,
        method: str,
        path: str,
        *,
        json_body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """A request with the token; on 1106 log in once more and repeat it once."""
        await self.login()
        for attempt in (1, 2):
            token = self._token
            code, description, data = await self._call(
                method, path, json_body=json_body, params=params, auth=True
            )
            if code in _SUCCESS:
                return data
            if code == TOKEN_INVALID and attempt == 1:
                await self.relogin(token)
                continue
            raise self._error_for(code, description)
        raise AssertionError("unreachable")  # pragma: no cover

    def _error_for(self, code: int, description: str) -> CapRoverError:
        if code == TOKEN_INVALID:
            return TokenInvalid(self.name, "the login token was refused again after a new login")
        if code == NOT_READY:
            return NotReady(self.name, "CapRover is starting (1001: not ready yet)")
        return ApiError(self.name, code, description)

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json_body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        auth: bool,
    ) -> tuple[int, str, dict[str, Any]]:
        """One HTTP exchange, turned into (status, description, data) or a CapRoverError."""
        headers = dict(_HEADERS)
        if auth and self._token is not None:
            headers["x-captain-auth"] = self._token
        body = None
        if json_body is not None:
            headers["Content-Type"] = "application/json"
            body = json.dumps(json_body, separators=(",", ":")).encode()
        try:
            answer = await fetch(
                self._http,
                method,
                API + path,
                self._settings,
                headers=headers,
                content=body,
                params=dict(params) if params else None,
            )
        except NetworkFailure as failure:
            raise self._network_error(failure, method) from None
        return self._parse_envelope(answer)

    def _network_error(self, failure: NetworkFailure, method: str) -> CapRoverError:
        kind = failure.kind
        route = f" through proxy {shown_proxy(self.instance.proxy)}" if self.instance.proxy else ""
        if kind in (FailureKind.TLS_UNTRUSTED, FailureKind.TLS_FAILED):
            return TlsFailure(self.name, f"{failure}{route}")
        if kind.before_connecting:
            where = f"{self.instance.url}{route}"
            return Unreachable(self.name, f"cannot connect to {where}: {failure}")
        message = str(failure)
        maybe_delivered = method != "GET" and kind in _MAYBE_DELIVERED
        if maybe_delivered:
            # Sent once and never again: a deploy or an update may have started anyway.
            message += (
                "; the request was sent once and not repeated: it may have reached CapRover, "
                "so check the instance before asking again"
            )
        if kind is FailureKind.TIMEOUT:
            return Unreachable(self.name, message)
        return (NoAnswer if maybe_delivered else BadResponse)(self.name, message)

    def _parse_envelope(self, response: HttpAnswer) -> tuple[int, str, dict[str, Any]]:
        http_status = response.status
        body = response.body
        if 300 <= http_status < 400:
            host = urlsplit(response.headers.get("location", "")).hostname
            where = f" to {printable(host, 100)}" if host else ""
            raise BadResponse(
                self.name,
                f"HTTP {http_status} redirect{where}; not followed (check the URL in the vault)",
            )
        if http_status == 429:
            raise Busy(self.name, "another operation is in progress on this server (HTTP 429)")
        if http_status in (502, 503, 504):
            raise ServerDown(
                self.name, f"HTTP {http_status}: CapRover is not answering behind nginx"
            )
        if http_status != 200:
            raise BadResponse(self.name, f"HTTP {http_status} instead of a CapRover answer")
        content_type = response.headers.get("content-type", "")
        if not body.strip():
            raise BadResponse(self.name, "empty answer (HTTP 200 with no body)")
        try:
            # orjson: the app list is tens of KB per instance, and the stdlib parser was a
            # fifth of an audit's client CPU. Its errors are ValueErrors (too deep, NaN, bad
            # UTF-8 or lone surrogates included), where json.loads could raise RecursionError.
            envelope = orjson.loads(body)
        except (ValueError, UnicodeDecodeError):
            kind = "HTML" if "html" in content_type or body.lstrip()[:1] == b"<" else "not JSON"
            raise BadResponse(
                self.name,
                f"answered {kind} ({printable(content_type, 60) or 'no content type'}), "
                "not CapRover's JSON: is the URL the captain dashboard?",
            ) from None
        if not isinstance(envelope, dict):
            raise BadResponse(self.name, "answered JSON that is not CapRover's envelope")
        code = envelope.get("status")
        description = envelope.get("description", "")
        data = envelope.get("data", {})
        if isinstance(code, bool) or not isinstance(code, int):
            raise BadResponse(self.name, "answered JSON without a numeric status")
        if not isinstance(description, str):
            description = str(description)
        if not isinstance(data, dict):
            data = {}
        return code, description, data


def _app_path(app: str) -> str:
    # App names are [a-z0-9-] on a real server; quoting keeps a hostile name inside the path.
    return quote(app, safe="")
