"""Async client for one CapRover server's HTTP API (v2), over httpx.

Every HTTP detail of CapRover lives here: paths, headers, the response envelope, status codes
and what each means for the caller. Callers get domain values (AppInfo, VersionInfo,
BuildStatus) or a CapRoverError whose message names the instance and says what came back.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from gc_tui.core.model import AppInfo, AppVersion, Instance, InstanceStatus, VersionInfo
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

    def __init__(
        self, instance: Instance, http: httpx.AsyncClient, settings: ClientSettings
    ) -> None:
        self.instance = instance
        self._http = http
        self._settings = settings
        self._token: str | None = None
        self._login_lock = asyncio.Lock()
        # A failed login is remembered for the rest of the action: CapRover locks every
        # administrator out after 5 failures in 30 s, so a second attempt is never automatic.
        self._login_failure: CapRoverError | None = None
        # Parsed once per path: parsing and joining URLs was a tenth of each request's CPU.
        self._urls: dict[str, httpx.URL] = {}
        self._headers: list[tuple[str, str]] | None = None

    @property
    def name(self) -> str:
        return self.instance.name

    def forget_credentials(self) -> None:
        """Drop the token and any remembered failure (the idle lock calls this)."""
        self._token = None
        self._login_failure = None

    async def aclose(self) -> None:
        await self._http.aclose()

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
        headers = [*self._base_headers()]
        if auth and self._token is not None:
            headers.append(("x-captain-auth", self._token))
        # Built here rather than by client.stream(): merging the client's URL, headers and
        # cookies into every request cost a third of its CPU (benchmarks/bench_audit.py).
        request = httpx.Request(method, self._url(path), params=params, headers=headers, json=json_body)
        try:
            async with asyncio.timeout(self._settings.request_deadline):
                response = await self._http.send(request, stream=True)
                try:
                    body = await self._read_capped(response)
                finally:
                    await response.aclose()
        except TimeoutError:
            raise Unreachable(
                self.name,
                f"no complete answer within {self._settings.request_deadline:g} s",
            ) from None
        except httpx.ConnectError as err:
            raise self._connect_error(err) from None
        except httpx.TimeoutException:
            raise Unreachable(self.name, "timed out waiting for the server") from None
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as err:
            raise BadResponse(
                self.name, f"the connection broke mid-answer ({type(err).__name__})"
            ) from None
        except httpx.HTTPError as err:
            raise Unreachable(self.name, f"HTTP failure ({type(err).__name__})") from None
        return self._parse_envelope(response, body)

    def _base_headers(self) -> list[tuple[str, str]]:
        if self._headers is None:
            self._headers = [
                *((name, value) for name, value in self._http.headers.items()
                  if name not in ("accept-encoding", "connection")),
                ("x-namespace", "captain"),
                # The size cap counts the bytes that arrive, so nothing may inflate them.
                ("accept-encoding", "identity"),
            ]
        return self._headers

    def _url(self, path: str) -> httpx.URL:
        url = self._urls.get(path)
        if url is None:
            base = str(self._http.base_url).rstrip("/")
            url = self._urls[path] = httpx.URL(base + API + path)
            if len(self._urls) > 64:  # app paths vary; keep the cache small
                self._urls.clear()
        return url

    async def _read_capped(self, response: httpx.Response) -> bytes:
        limit = self._settings.max_response_bytes
        declared = response.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise BadResponse(self.name, f"answer too large ({int(declared)} bytes)")
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_raw():
            size += len(chunk)
            if size > limit:
                raise BadResponse(self.name, f"answer larger than {limit} bytes; stopped reading")
            chunks.append(chunk)
        return b"".join(chunks)

    def _connect_error(self, err: httpx.ConnectError) -> CapRoverError:
        cause: BaseException | None = err
        while cause is not None:
            if isinstance(cause, ssl.SSLCertVerificationError):
                detail = printable(cause.verify_message or "verification failed", 200)
                return TlsFailure(self.name, f"TLS certificate not trusted: {detail}")
            if isinstance(cause, ssl.SSLError):
                return TlsFailure(self.name, f"TLS handshake failed: {printable(cause.reason, 200)}")
            cause = cause.__cause__ or cause.__context__
        text = str(err)
        if "CERTIFICATE_VERIFY_FAILED" in text or "SSL" in text:
            return TlsFailure(self.name, "TLS handshake failed")
        return Unreachable(self.name, f"cannot connect to {self.instance.url}")

    def _parse_envelope(
        self, response: httpx.Response, body: bytes
    ) -> tuple[int, str, dict[str, Any]]:
        http_status = response.status_code
        if 300 <= http_status < 400:
            location = response.headers.get("location", "")
            target = httpx.URL(location) if location else None
            where = f" to {printable(target.host, 100)}" if target is not None and target.host else ""
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
            envelope = json.loads(body)
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
        versions: list[AppVersion] = []
        append = versions.append  # the hot loop of an audit: ~15 entries x 12 apps x 200
        live: AppVersion | None = None
        for entry in raw.get("versions") or ():
            if type(entry) is not dict:
                continue
            number = entry.get("version")
            if type(number) is not int:
                continue
            image = entry.get("deployedImageName")
            stamp = entry.get("timeStamp")
            version = AppVersion(
                number,
                image if type(image) is str else None,
                stamp if type(stamp) is str else None,
            )
            append(version)
            if number == deployed:
                live = version
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
            history_length=len(versions),
            tags=tags,
            project_id=project if isinstance(project, str) else "",
            is_building=bool(raw.get("isAppBuilding")),
            versions=tuple(versions),
        )


def _app_path(app: str) -> str:
    # App names are [a-z0-9-] on a real server; quoting keeps a hostile name inside the path.
    return quote(app, safe="")
