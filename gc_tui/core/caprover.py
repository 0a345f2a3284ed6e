"""Async client for one CapRover server's HTTP API (v2), over ``transport.HttpPool``.

Every HTTP detail of CapRover lives here: paths, headers, the response envelope, status codes
and what each means for the caller. Callers get domain values (AppInfo, VersionInfo,
BuildStatus) or a CapRoverError whose message names the instance and says what came back.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, overload
from urllib.parse import quote, urlencode, urlsplit

import orjson

from gc_tui.core.model import AppInfo, AppVersion, Instance, InstanceStatus, VersionInfo
from gc_tui.core.text import printable
from gc_tui.core.totp import totp_code
from gc_tui.core.transport import (
    ConnectFailed,
    ConnectionBroke,
    ConnectTimedOut,
    HttpPool,
    HttpResponse,
    ProtocolViolation,
    ReadTimedOut,
    TooLarge,
)

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

_HEADERS: list[tuple[str, str]] = [
    ("Accept", "application/json"),
    # The size cap counts the bytes that arrive, so nothing may inflate them.
    ("Accept-Encoding", "identity"),
    ("User-Agent", "gc-tui"),
    ("x-namespace", "captain"),
]


@dataclass(frozen=True)
class ClientSettings:
    """Limits applied to every request; the defaults suit a server across the internet."""

    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    # A total deadline, because a server that drips one byte a second never trips a read timeout.
    request_deadline: float = 60.0
    max_response_bytes: int = 16 * 1024 * 1024


class CapRoverError(Exception):
    """A failure talking to one instance; ``str()`` is one readable line, never a secret."""

    status: InstanceStatus = InstanceStatus.ERROR

    def __init__(self, instance: str, message: str) -> None:
        super().__init__(f"{instance}: {message}")
        self.instance = instance
        self.reason = message


class Unreachable(CapRoverError):
    status = InstanceStatus.UNREACHABLE


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


def make_ssl_contexts() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A verifying context and an unverified one, built once and shared by every client.

    Building a context costs about 25 ms (loading the CA store); with 200 instances that is
    seconds, so the fleet shares these two.
    """
    verified = ssl.create_default_context()
    insecure = ssl.create_default_context()
    insecure.check_hostname = False
    insecure.verify_mode = ssl.CERT_NONE
    return verified, insecure


class CapRoverClient:
    """One instance's API. Holds its token in memory only; never retries a wrong password."""

    def __init__(self, instance: Instance, http: HttpPool, settings: ClientSettings) -> None:
        self.instance = instance
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

        Never raises for the network: a failure here is met again, and reported, by the
        request that needed the connection.
        """
        await self._http.preconnect(connections)

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
                raise OtpRequired(self.name, f"the vault entry's TOTP seed is unusable: {err}")
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
        return tuple(self._parse_app(raw) for raw in raw_apps)

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
        lines = tuple(str(line) for line in raw_lines if line) if isinstance(raw_lines, list) else ()
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
        headers = _HEADERS
        if auth and self._token is not None:
            headers = [*headers, ("x-captain-auth", self._token)]
        body = b""
        if json_body is not None:
            headers = [*headers, ("Content-Type", "application/json")]
            body = json.dumps(json_body, separators=(",", ":")).encode()
        target = API + path + (f"?{urlencode(params)}" if params else "")
        try:
            async with asyncio.timeout(self._settings.request_deadline):
                response = await self._http.request(method, target, headers, body)
        except TimeoutError:
            raise Unreachable(
                self.name,
                f"no complete answer within {self._settings.request_deadline:g} s",
            ) from None
        except ConnectFailed as err:
            raise self._connect_error(err) from None
        except (ConnectTimedOut, ReadTimedOut):
            raise Unreachable(self.name, "timed out waiting for the server") from None
        except TooLarge as err:
            raise BadResponse(self.name, str(err)) from None
        except (ConnectionBroke, ProtocolViolation) as err:
            raise BadResponse(
                self.name, f"the connection broke mid-answer ({printable(str(err), 100)})"
            ) from None
        return self._parse_envelope(response)

    def _connect_error(self, err: ConnectFailed) -> CapRoverError:
        cause = err.__cause__
        if isinstance(cause, ssl.SSLCertVerificationError):
            detail = printable(cause.verify_message or "verification failed", 200)
            return TlsFailure(self.name, f"TLS certificate not trusted: {detail}")
        if isinstance(cause, ssl.SSLError):
            return TlsFailure(self.name, f"TLS handshake failed: {printable(cause.reason, 200)}")
        return Unreachable(self.name, f"cannot connect to {self.instance.url}")

    def _parse_envelope(self, response: HttpResponse) -> tuple[int, str, dict[str, Any]]:
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
            raise ServerDown(self.name, f"HTTP {http_status}: CapRover is not answering behind nginx")
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

    def _parse_app(self, raw: object) -> AppInfo:
        if not isinstance(raw, dict) or not isinstance(raw.get("appName"), str):
            raise BadResponse(self.name, "an app in appDefinitions has no name")
        deployed = raw.get("deployedVersion")
        if isinstance(deployed, bool) or not isinstance(deployed, int):
            raise BadResponse(self.name, f"app {printable(raw['appName'], 60)} has no deployedVersion")
        raw_versions = raw.get("versions")
        history = VersionHistory(raw_versions if type(raw_versions) is list else [])
        live = history.find(deployed)
        tags = tuple(
            t["tagName"]
            for t in raw.get("tags") or []
            if isinstance(t, dict) and isinstance(t.get("tagName"), str)
        )
        project = raw.get("projectId")
        return AppInfo(
            name=raw["appName"],
            deployed_version=deployed,
            image=live.image if live else None,
            deployed_at=live.timestamp if live else None,
            tags=tags,
            project_id=project if isinstance(project, str) else "",
            is_building=bool(raw.get("isAppBuilding")),
            versions=history,
        )


class VersionHistory(Sequence[AppVersion]):
    """An app's ``versions[]`` as CapRover sent it, turned into AppVersion on first use.

    An audit reads every app of every instance but seldom needs the history (rollback
    targets and the detail view do): parsing tens of thousands of entries up front was the
    largest part of an audit's client CPU (benchmarks/bench_audit.py). Entries that are not
    objects with an integer ``version`` are left out, as if CapRover had not sent them.
    """

    __slots__ = ("_entries", "_raw")

    def __init__(self, raw: list[Any]) -> None:
        self._raw = raw
        self._entries: tuple[AppVersion, ...] | None = None

    def find(self, number: int) -> AppVersion | None:
        """The last entry whose version is ``number`` (the live one, for deployedVersion)."""
        if self._entries is not None:
            return next((v for v in reversed(self._entries) if v.version == number), None)
        for entry in reversed(self._raw):  # the deployed version is nearly always the last
            if type(entry) is dict:
                found = entry.get("version")
                if found == number and type(found) is int:
                    return _version(entry, number)
        return None

    def _parsed(self) -> tuple[AppVersion, ...]:
        if self._entries is None:
            self._entries = tuple(
                _version(entry, entry["version"])
                for entry in self._raw
                if type(entry) is dict and type(entry.get("version")) is int
            )
            self._raw = []  # parsed once; the raw dicts are no longer needed
        return self._entries

    @overload
    def __getitem__(self, index: int) -> AppVersion: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[AppVersion]: ...
    def __getitem__(self, index: int | slice) -> AppVersion | Sequence[AppVersion]:
        return self._parsed()[index]

    def __len__(self) -> int:
        return len(self._parsed())

    def __iter__(self) -> Iterator[AppVersion]:
        return iter(self._parsed())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (VersionHistory, tuple)):
            return self._parsed() == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._parsed())

    def __repr__(self) -> str:
        return f"VersionHistory({self._parsed()!r})"


def _version(entry: dict[str, Any], number: int) -> AppVersion:
    image = entry.get("deployedImageName")
    stamp = entry.get("timeStamp")
    return AppVersion(
        number, image if type(image) is str else None, stamp if type(stamp) is str else None
    )


def _app_path(app: str) -> str:
    # App names are [a-z0-9-] on a real server; quoting keeps a hostile name inside the path.
    return quote(app, safe="")
