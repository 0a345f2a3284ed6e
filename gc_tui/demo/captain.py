"""The behaviour of one fake CapRover server, faithful to shared/reference/caprover-api.md.

``CaptainServer.handle`` turns one HTTP request into one response: server-wide faults first,
then CapRover's global checks (namespace, API version, readiness), login, the token check, the
429 lock, and the /user routes. Builds and self-updates run as tasks on the same loop.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import socket
import ssl
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from gc_tui.core.totp import totp_code
from gc_tui.demo.http_server import HttpServer, Request, Response
from gc_tui.demo.instance import (
    BuildOutcome,
    FakeApp,
    FakeInstance,
    Fault,
    Phase,
    QueuedBuild,
    RestartMode,
    version_tuple,
)
from gc_tui.demo.json_memo import JsonMemo

JSON = "application/json; charset=utf-8"
HTML = "text/html; charset=utf-8"
TEXT = "text/plain; charset=utf-8"
LOCKED_TEXT = "Another operation still in progress... please wait..."
HEALTH_UUID = "6b7a4d54-5c1e-4e0f-9a7e-3f1c2d8b9e10"

# An illustrative stand-in for template/server-block-conf.ejs: clients only need "a long string".
DEFAULT_NGINX_CONFIG = (
    "<%\nif (s.forceSsl) {\n%>\n    server {\n        listen       80;\n"
    "        server_name  <%-s.publicDomain%>;\n"
    "        location /.well-known/acme-challenge/ {\n            root <%-s.staticWebRoot%>;\n"
    "        }\n        location / {\n            return 302 https://$http_host$request_uri;\n"
    "        }\n    }\n<%\n}\n%>\n\n    server {\n<%\n        if (!s.forceSsl) {\n%>\n"
    "        listen       80;\n<%\n        }\n        if (s.hasSsl) {\n%>\n"
    "        listen              443 ssl;\n        http2 on;\n"
    "        ssl_certificate     <%-s.crtPath%>;\n        ssl_certificate_key <%-s.keyPath%>;\n"
    "<%\n        }\n%>\n        client_max_body_size 500m;\n"
    "        server_name  <%-s.publicDomain%>;\n"
    "        resolver 127.0.0.11 valid=10s;\n        set $upstream http://<%-s.localDomain%>:"
    "<%-s.containerHttpPort%>;\n\n        location / {\n"
    "            proxy_pass $upstream;\n            proxy_set_header Host $host;\n"
    "            proxy_set_header X-Real-IP $remote_addr;\n"
    "            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
    "            proxy_set_header X-Forwarded-Proto $scheme;\n<%\n"
    "            if (s.websocketSupport) {\n%>\n            proxy_set_header Upgrade $http_upgrade;\n"
    '            proxy_set_header Connection "upgrade";\n            proxy_http_version 1.1;\n'
    "<%\n            }\n%>\n        }\n\n        location /.well-known/acme-challenge/ {\n"
    "            root <%-s.staticWebRoot%>;\n        }\n    }\n"
)

NGINX_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)
FAULT_HTML = (
    b"<!DOCTYPE html><html><head><title>Welcome to nginx!</title></head>"
    b"<body><h1>Welcome to nginx!</h1><p>This is not CapRover.</p></body></html>"
)


def envelope_body(status: int, description: str, data: Any = None) -> dict[str, Any]:
    return {"status": status, "description": description, "data": {} if data is None else data}


def envelope(status: int, description: str, data: Any = None) -> Response:
    return Response(200, json.dumps(envelope_body(status, description, data)).encode())


def http_error(status: int, text: str, content_type: str = TEXT) -> Response:
    return Response(status, text.encode(), content_type)


class DefinitionError(Exception):
    """A captain-definition problem; ``status`` None means a plain Node error (HTTP 500)."""

    def __init__(self, text: str, status: int | None = 1000) -> None:
        super().__init__(text)
        self.text = text
        self.status = status


def parse_definition(content: Any) -> str:
    """The imageName of a captain-definition, or DefinitionError with CapRover's text."""
    # The server interpolates the value into a string, so an object becomes this.
    text = content if isinstance(content, str) else "[object Object]"
    try:
        definition = json.loads(text)
    except ValueError:
        raise DefinitionError(
            f"SyntaxError: Unexpected token {text[:1]!s} in JSON at position 0", None
        ) from None
    if not isinstance(definition, dict) or definition.get("schemaVersion") in (None, ""):
        raise DefinitionError("Captain Definition version is empty!")
    if definition["schemaVersion"] != 2 or isinstance(definition["schemaVersion"], bool):
        raise DefinitionError(
            "Captain Definition version is not supported! Read migration guides to schemaVersion 2"
        )
    present = [
        key
        for key in ("templateId", "imageName", "dockerfilePath", "dockerfileLines")
        if definition.get(key)
    ]
    if len(present) != 1:
        raise DefinitionError(
            "One, and only one, of these properties should be present in captain-definition: "
            "templateId, imageName, dockerfilePath, or, dockerfileLines"
        )
    if present[0] != "imageName" or not isinstance(definition["imageName"], str):
        # Builds (dockerfile, template) are not simulated: the fake only pulls images.
        raise DefinitionError("The fake CapRover only deploys by imageName", None)
    image: str = definition["imageName"]
    return image


def _js_date() -> str:
    return datetime.now(UTC).strftime("%a %b %d %Y %H:%M:%S GMT+0000 (Coordinated Universal Time)")


def _repository_of(image: str) -> str:
    name = image.split("@", 1)[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    return name[:colon] if colon > slash else name


class CaptainServer:
    """Serves one FakeInstance on its own loopback port."""

    def __init__(
        self,
        instance: FakeInstance,
        *,
        host: str = "127.0.0.1",
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.instance = instance
        self.tls = ssl_context is not None
        self.http = HttpServer(self.handle, host=host, ssl_context=ssl_context)
        self._placeholder: socket.socket | None = None
        self._update_task: asyncio.Task[None] | None = None
        self._listing_json = JsonMemo()  # appDefinitions, re-encoded only when it changed

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self.http.port

    async def start(self) -> None:
        if self.instance.active_fault is Fault.UNREACHABLE:
            self.hold_port_closed()
        else:
            await self.http.start_listening()

    async def stop(self) -> None:
        if self._update_task is not None:
            self._update_task.cancel()
        for task in list(self.instance.state.tasks):
            task.cancel()
        await self.http.stop_listening()
        self._release_placeholder()

    async def take_down(self) -> None:
        """Refuse connections from now on (the port stays reserved)."""
        await self.http.stop_listening()
        self.hold_port_closed()

    async def bring_up(self) -> None:
        self._release_placeholder()
        await self.http.start_listening()

    def hold_port_closed(self) -> None:
        """Bind without listening: connections are refused and no one else takes the port."""
        if self._placeholder is not None:
            return
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.http.host, self.http.port))
        self.http.port = sock.getsockname()[1]
        self._placeholder = sock

    def _release_placeholder(self) -> None:
        if self._placeholder is not None:
            self._placeholder.close()
            self._placeholder = None

    # -- entry point for every request -------------------------------------------------------

    async def handle(self, request: Request) -> Response:
        instance = self.instance
        body, body_ok = self._parse_body(request)
        instance.record(request.method, request.path, dict(request.query), body)
        if instance.latency_seconds > 0:
            await asyncio.sleep(instance.latency_seconds)
        fault = instance.active_fault
        if fault is not None and fault not in (Fault.TRUNCATED, Fault.DRIP):
            return await self._fault_response(fault, request)
        if instance.phase is Phase.DOWN:
            return http_error(502, NGINX_502.decode(), HTML)
        response = await self._dispatch(request, body, body_ok)
        if fault is Fault.TRUNCATED:
            # Declare the whole body, send half, hang up.
            response.content_length = len(response.body)
            response.body = response.body[: len(response.body) // 2]
            response.close_after = True
        elif fault is Fault.DRIP:
            response.drip_interval = instance.drip_interval
        return response

    @staticmethod
    def _parse_body(request: Request) -> tuple[Any, bool]:
        if not request.body:
            return None, True
        content_type = request.headers.get("content-type", "").lower()
        if "json" in content_type:
            try:
                return json.loads(request.body), True
            except ValueError:
                return None, False
        if "x-www-form-urlencoded" in content_type:
            return dict(parse_qsl(request.body.decode("utf-8", "replace"))), True
        return None, True

    async def _fault_response(self, fault: Fault, request: Request) -> Response:
        instance = self.instance
        if fault is Fault.SILENT:
            await asyncio.Event().wait()  # until the connection is dropped at shutdown
        if fault is Fault.SLOW:
            await asyncio.sleep(instance.slow_seconds)
            return await self._dispatch(request, *self._parse_body(request))
        if fault is Fault.HTML:
            return Response(200, FAULT_HTML, HTML)
        if fault is Fault.NOT_JSON:
            return Response(200, b'{"status": 100, "description": "oops', JSON)
        if fault is Fault.EMPTY:
            return Response(200, b"", JSON)
        if fault is Fault.HTTP500:
            return http_error(500, "Internal Server Error")
        if fault is Fault.REDIRECT_OTHER_HOST:
            return Response(
                302, b"Found", TEXT, headers=[("Location", f"http://evil.invalid{request.target}")]
            )
        if fault is Fault.REDIRECT_TO_HTTP:
            location = f"http://{self.http.host}:{self.port}{request.target}"
            return Response(302, b"Found", TEXT, headers=[("Location", location)])
        if fault is Fault.HUGE:
            return Response(
                200,
                content_type=JSON,
                chunks=_huge_body(instance.huge_bytes),
                content_length=instance.huge_bytes,
            )
        raise AssertionError(f"unhandled fault {fault}")

    # -- CapRover's global checks and routes -------------------------------------------------

    async def _dispatch(self, request: Request, body: Any, body_ok: bool) -> Response:
        instance = self.instance
        if not body_ok:
            return http_error(500, "Internal Server Error")  # body-parser error, no CapRover code
        namespace = request.headers.get("x-namespace")
        if namespace and namespace != "captain":
            return envelope(1000, "Namespace unknown")
        segments = [s for s in request.path.split("/") if s]
        lowered = [s.lower() for s in segments]
        if lowered == ["checkhealth"]:
            if instance.phase is not Phase.RUNNING:
                return http_error(500, "Internal Server Error")
            return Response(200, HEALTH_UUID.encode(), HTML)
        if len(segments) < 2 or lowered[0] != "api":
            return http_error(404, "Not Found")
        if segments[1] != "v2":
            return envelope(1000, "This captain instance only accepts API v2")
        if instance.phase is Phase.NOT_READY:
            return envelope(1001, "Captain is not ready yet...")
        route = lowered[2:]
        fields = body if isinstance(body, dict) else {}
        if route == ["login"]:
            if request.method != "POST":
                return http_error(404, "Not Found")
            return self._login(fields)
        if route[:1] == ["user"]:
            return await self._user(request, segments[3:], route[1:], fields)
        return http_error(404, "Not Found")

    def _login(self, body: dict[str, Any]) -> Response:
        instance = self.instance
        state = instance.state
        password = str(body.get("password") or "")
        otp_token = str(body.get("otpToken") or "")
        if not password:
            return envelope(1000, "password is empty.")
        if instance.at_least("1.14") and len(password) > 29:
            return envelope(1000, "password is too long - maximum 29 characters. ...")
        otp_on = instance.otp_secret is not None and instance.at_least("1.11")
        if otp_on and not otp_token:
            return envelope(1114, "Enter OTP token as well")
        loop_now = asyncio.get_running_loop().time()
        if (
            len(state.failures) == state.failures.maxlen
            and loop_now - state.failures[0] < instance.backoff_window_seconds
        ):
            return envelope(1113, "Too many wrong passwords... Wait for 30 seconds and retry.")
        otp_good = not otp_on or self._otp_matches(otp_token)
        if not otp_good or not secrets.compare_digest(
            password.encode(), instance.password.encode()
        ):
            state.failures.append(loop_now)
            wrong = (
                "Password is incorrect."
                if instance.version.startswith("1.10")
                else ("Invalid credentials")
            )
            return envelope(1105, wrong)
        token = secrets.token_urlsafe(48)
        instance.tokens[token] = instance.token_version
        return envelope(100, "Login succeeded", {"token": token})

    def _otp_matches(self, otp_token: str) -> bool:
        secret = self.instance.otp_secret
        assert secret is not None
        now = datetime.now(UTC).timestamp()
        return any(
            secrets.compare_digest(totp_code(secret, now=now + drift), otp_token)
            for drift in (-30, 0, 30)
        )

    async def _user(
        self, request: Request, segments: list[str], route: list[str], body: dict[str, Any]
    ) -> Response:
        instance = self.instance
        token = request.headers.get("x-captain-auth", "")
        token_version = instance.tokens.get(token)
        if token_version is None:
            return envelope(1106, "Auth token corrupted")
        if token_version != instance.token_version:
            return envelope(1106, "Auth token is no longer valid. Request for a new auth token")
        release: Callable[[], None] | None = None
        if request.method != "GET":
            if instance.state.lock_holder is not None:
                return http_error(429, LOCKED_TEXT, HTML)
            release = _take_lock(instance)
        try:
            response = await self._user_route(request, segments, route, body)
        except BaseException:
            if release is not None:
                release()
            raise
        if release is not None:
            response.on_finished.append(release)
        return response

    async def _user_route(
        self, request: Request, segments: list[str], route: list[str], body: dict[str, Any]
    ) -> Response:
        method = request.method
        if route == ["apps", "appdefinitions"] and method == "GET":
            return self._app_definitions()
        if len(route) == 3 and route[:2] == ["apps", "appdata"]:
            if method == "GET":
                return self._build_status(segments[2])
            if method == "POST":
                return await self._deploy(segments[2], request.query, body)
        is_logs = len(route) == 4 and route[:2] == ["apps", "appdata"] and route[3] == "logs"
        if is_logs and method == "GET":
            if self.instance.app(segments[2]) is None:
                return _app_not_found(segments[2])
            return envelope(100, "App runtime logs are retrieved", {"logs": ""})
        if route == ["system", "versioninfo"]:
            if method == "GET":
                return self._version_info()
            if method == "POST":
                return await self._start_update(body)
        if route == ["system", "info"] and method == "GET":
            return self._system_info()
        return http_error(404, "Not Found")

    # -- listing -----------------------------------------------------------------------------

    def _app_definitions(self) -> Response:
        # Hot in benchmarks (every audit lists every instance): the version checks are made
        # once per listing rather than three times per app, and the JSON of an unchanged
        # listing is reused (json_memo says why that is safe).
        instance = self.instance
        on_1_11 = instance.at_least("1.11")
        on_1_13 = instance.at_least("1.13")
        on_1_15 = instance.at_least("1.15")
        building = instance.state.building
        apps = [
            _app_json(app, building.get(app.name, False), on_1_11, on_1_13, on_1_15)
            for app in instance.apps
        ]
        data: dict[str, Any] = {"appDefinitions": apps, "rootDomain": instance.root_domain}
        if on_1_11:
            data["captainSubDomain"] = "captain"
        data["defaultNginxConfig"] = DEFAULT_NGINX_CONFIG
        body = envelope_body(100, "App definitions are retrieved.", data)
        return Response(200, self._listing_json.encode(body))

    def _build_status(self, app_name: str) -> Response:
        state = self.instance.state
        log = state.build_logs.get(app_name)
        window = log.window() if log is not None else {"lines": [""] * 50, "firstLineNumber": -50}
        data = {
            "isAppBuilding": state.building.get(app_name, False),
            "logs": window,
            "isBuildFailed": log.failed if log is not None else False,
        }
        return envelope(100, "App build status retrieved", data)

    # -- deploy and the build queue ----------------------------------------------------------

    async def _deploy(self, app_name: str, query: dict[str, str], body: dict[str, Any]) -> Response:
        instance = self.instance
        app = instance.app(app_name)
        if app is None:
            return _app_not_found(app_name)
        definition = body.get("captainDefinitionContent")
        if definition is None or definition == "":
            if instance.at_least("1.15"):
                text = (
                    "Either uploadedTarPathSource or captainDefinitionContent should be "
                    "provided, but not both."
                )
            else:
                text = "Either tarballfile or captainDefinitionContent should be present."
            return envelope(1108, text)
        git_hash = str(body.get("gitHash") or "")
        outcome = self._schedule(app.name, definition, git_hash)
        if query.get("detached"):
            return envelope(101, "Deploy is started")
        # Attached: unlike the real server, a queued attached deploy is answered too.
        result = await outcome
        if result.ok:
            return envelope(100, "Deploy is done")
        if result.status is not None:
            return envelope(result.status, result.description)
        return http_error(500, "Internal Server Error")

    def _schedule(
        self, app_name: str, definition: Any, git_hash: str
    ) -> asyncio.Future[BuildOutcome]:
        state = self.instance.state
        # CapRover's isAnyBuildRunning: any app flagged building, queued ones included.
        active = next((name for name, flag in state.building.items() if flag), None)
        state.building[app_name] = True
        log = state.log_of(app_name)
        log.clear()
        outcome: asyncio.Future[BuildOutcome] = asyncio.get_running_loop().create_future()
        if active is None:
            self._spawn(self._run_build(app_name, definition, git_hash, outcome))
            return outcome
        for queued in state.queue:
            if queued.app_name == app_name:
                log.log(
                    f"A build for {app_name} was queued, it's now being replaced with a new build..."
                )
                queued.definition, queued.git_hash = definition, git_hash
                return queued.outcome
        log.log(f"An active build ({active}) is in progress. This build is queued...")
        state.queue.append(QueuedBuild(app_name, definition, git_hash, outcome))
        return outcome

    def _spawn(self, coroutine: Any) -> None:
        tasks = self.instance.state.tasks
        task = asyncio.get_running_loop().create_task(coroutine)
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    def _build_finished(self, app_name: str) -> None:
        """CapRover's onBuildFinished: clear the flag, start the next queued build.

        The dequeued build never sets its flag again: a second deploy of the app that was
        building therefore runs while reporting isAppBuilding false (the reference's quirk).
        """
        state = self.instance.state
        state.building[app_name] = False
        if state.queue:
            nxt = state.queue.popleft()
            self._spawn(self._run_build(nxt.app_name, nxt.definition, nxt.git_hash, nxt.outcome))

    async def _run_build(
        self,
        app_name: str,
        definition: Any,
        git_hash: str,
        outcome: asyncio.Future[BuildOutcome],
    ) -> None:
        try:
            await self._build(app_name, definition, git_hash, outcome)
        except asyncio.CancelledError:
            _settle(outcome, BuildOutcome(False))  # the process died: an attached deploy sees 500
            raise

    async def _build(
        self,
        app_name: str,
        definition: Any,
        git_hash: str,
        outcome: asyncio.Future[BuildOutcome],
    ) -> None:
        instance = self.instance
        app = instance.app(app_name)
        log = instance.state.log_of(app_name)
        if app is None:  # deleted while queued
            self._build_finished(app_name)
            return
        entry = app.create_new_version()
        log.clear()
        log.log(f"------------------------- {_js_date()}")
        log.log(f"Build started for {app_name}")
        try:
            image = parse_definition(definition)
        except DefinitionError as error:
            self._fail(log, error.text, from_build=False)
            self._build_finished(app_name)
            _settle(outcome, BuildOutcome(False, error.status, error.text))
            return
        log.log(
            f"An explicit image name was provided ({image}). Therefore, no build process is needed."
        )
        log.log(f"Pulling this image: {image} This process might take a few minutes.")
        await asyncio.sleep(instance.build_seconds)
        if instance.pull_fails(image):
            repository = _repository_of(image)
            self._fail(
                log,
                f"Error: (HTTP code 404) unexpected - pull access denied for {repository}, "
                "repository does not exist or may require 'docker login': denied: requested "
                "access to the resource is denied",
                from_build=True,
            )
            self._build_finished(app_name)
            _settle(outcome, BuildOutcome(False))
            return
        log.log("Build has finished successfully!")
        entry["deployedImageName"] = image
        entry["gitHash"] = git_hash
        app.deployed_version = int(entry["version"])
        self._build_finished(app_name)
        # The docker service update happens after isAppBuilding went false (§6.3's race).
        await asyncio.sleep(instance.service_update_seconds)
        if instance.service_update_fails(image):
            self._fail(
                log,
                "Error: (HTTP code 500) server error - rpc error: code = Unknown desc = "
                "update out of sequence",
                from_build=False,
            )
            _settle(outcome, BuildOutcome(False))
            return
        _settle(outcome, BuildOutcome(True))

    @staticmethod
    def _fail(log: Any, error_text: str, *, from_build: bool) -> None:
        if from_build:
            log.log("Build has failed!")
        log.log("----------------------")
        log.log("Deploy failed!")
        log.log(error_text)
        log.failed = True

    # -- version and self-update -------------------------------------------------------------

    def _version_info(self) -> Response:
        instance = self.instance
        if instance.version_check_fails:
            latest, changelog = instance.version, ""
        else:
            latest, changelog = instance.newest_version, instance.changelog
        data = {
            "currentVersion": instance.version,
            "latestVersion": latest,
            "changeLogMessage": changelog,
            "canUpdate": version_tuple(latest) > version_tuple(instance.version),
        }
        return envelope(100, "Version Info Retrieved", data)

    def _system_info(self) -> Response:
        instance = self.instance
        data = {
            "hasRootSsl": bool(instance.root_domain),
            "forceSsl": bool(instance.root_domain),
            "rootDomain": instance.root_domain,
            "captainSubDomain": "captain",
        }
        return envelope(100, "Captain info retrieved", data)

    async def _start_update(self, body: dict[str, Any]) -> Response:
        instance = self.instance
        target = str(body.get("latestVersion") or "")
        await asyncio.sleep(instance.update_pull_seconds)
        pullable = bool(target) and all(part.isdigit() for part in target.split("."))
        if instance.update_fails or not pullable:
            return http_error(500, "Internal Server Error")  # docker pull of the tag failed
        response = envelope(100, "Captain update process has started...")
        response.on_finished.append(lambda: self._begin_restart(target))
        return response

    def _begin_restart(self, new_version: str) -> None:
        if self._update_task is None or self._update_task.done():
            self._update_task = asyncio.get_running_loop().create_task(
                self.simulate_update_restart(new_version)
            )

    async def simulate_update_restart(self, new_version: str) -> None:
        """The captain container going down and coming back on ``new_version``."""
        instance = self.instance
        for task in instance.state.tasks:
            task.cancel()  # the process dies with its builds
        instance.phase = Phase.DOWN
        refuse = RestartMode(instance.restart_mode) is RestartMode.REFUSE
        if refuse:
            await self.take_down()
        if instance.never_returns:
            return
        await asyncio.sleep(instance.restart_seconds)
        instance.version = new_version
        instance.restart()
        instance.phase = Phase.NOT_READY
        if refuse:
            await self.bring_up()
        await asyncio.sleep(instance.not_ready_seconds)
        instance.phase = Phase.RUNNING


def _app_json(
    app: FakeApp, building: bool, on_1_11: bool, on_1_13: bool, on_1_15: bool
) -> dict[str, Any]:
    """One appDefinitions entry, its keys in the order the real server sends them."""
    item: dict[str, Any] = {
        "hasPersistentData": app.has_persistent_data,
        "description": app.description,
        "instanceCount": app.instance_count,
        "captainDefinitionRelativeFilePath": "./captain-definition",
        "networks": ["captain-overlay-network"],
        "envVars": app.env_vars,
        "volumes": app.volumes,
        "ports": app.ports,
        "versions": app.versions,
        "deployedVersion": app.deployed_version,
        "notExposeAsWebApp": app.not_expose_as_web_app,
        "customDomain": app.custom_domain,
        "hasDefaultSubDomainSsl": app.has_default_sub_domain_ssl,
        "forceSsl": app.force_ssl,
        "websocketSupport": app.websocket_support,
        "containerHttpPort": app.container_http_port,
        "appDeployTokenConfig": {"enabled": False},
    }
    if on_1_11:
        item["tags"] = [{"tagName": tag} for tag in app.tags]
        item["redirectDomain"] = ""
    if on_1_13:
        item["projectId"] = app.project_id
    item["appName"] = app.name
    item["isAppBuilding"] = building
    if on_1_15:
        item["isLegacyAppName"] = app.is_legacy_app_name
    return item


def _take_lock(instance: FakeInstance) -> Callable[[], None]:
    """Hold the namespace lock; the returned function releases it (once, this holder only)."""
    state = instance.state
    holder = object()
    state.lock_holder = holder

    def release() -> None:
        if state.lock_holder is holder:
            state.lock_holder = None

    return release


def _app_not_found(app_name: str) -> Response:
    return envelope(
        1000, f"App ({app_name}) could not be found. Make sure that you have created the app."
    )


def _settle(outcome: asyncio.Future[BuildOutcome], result: BuildOutcome) -> None:
    if not outcome.done():
        outcome.set_result(result)


async def _huge_body(size: int) -> AsyncIterator[bytes]:
    """A JSON-looking body of exactly ``size`` bytes, never held in memory at once."""
    head = b'{"status": 100, "description": "'
    tail = b'", "data": {}}'
    chunk = b"x" * 65536
    remaining = size
    first = head[:remaining]
    yield first
    remaining -= len(first)
    filler = max(0, remaining - len(tail))
    while filler > 0:
        piece = chunk[: min(filler, len(chunk))]
        filler -= len(piece)
        remaining -= len(piece)
        yield piece
    if remaining > 0:
        yield tail[-remaining:]
