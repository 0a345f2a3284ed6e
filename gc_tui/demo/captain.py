"""One fake CapRover server on its own loopback port, behaving as docs/caprover-api.md says.

``CaptainServer.handle`` turns one HTTP request into one response: the request is recorded,
then server-wide faults, CapRover's global checks (body, namespace, API version, readiness),
login, and the /user routes (``user_routes``). Builds and self-updates run as tasks on the
same loop (``builds``, ``self_update``).
"""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
from typing import Any
from urllib.parse import parse_qsl

from gc_tui.demo.app_listing import AppListing
from gc_tui.demo.builds import Builds
from gc_tui.demo.faults import damage, fault_answer, replaces_answer
from gc_tui.demo.http_server import HttpServer, Request, Response
from gc_tui.demo.instance import FakeInstance, Fault, Phase
from gc_tui.demo.login import login
from gc_tui.demo.responses import (
    HTML,
    NGINX_502,
    envelope,
    http_error,
    internal_server_error,
)
from gc_tui.demo.self_update import SelfUpdate
from gc_tui.demo.user_routes import UserRoutes

HEALTH_UUID = "6b7a4d54-5c1e-4e0f-9a7e-3f1c2d8b9e10"


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
        self.self_update = SelfUpdate(instance, take_down=self.take_down, bring_up=self.bring_up)
        self.user_routes = UserRoutes(
            instance,
            listing=AppListing(instance),
            builds=Builds(instance),
            self_update=self.self_update,
        )

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
        self.self_update.cancel()
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
        body, body_ok = _parse_body(request)
        instance.record(request.method, request.path, dict(request.query), body)
        if instance.latency_seconds > 0:
            await asyncio.sleep(instance.latency_seconds)
        fault = instance.active_fault
        if fault is not None and replaces_answer(fault):
            return await fault_answer(
                fault,
                request,
                instance,
                plain_base_url=f"http://{self.http.host}:{self.port}",
                real_answer=lambda: self._dispatch(request, *_parse_body(request)),
            )
        if instance.phase is Phase.DOWN:
            return http_error(502, NGINX_502.decode(), HTML)
        response = await self._dispatch(request, body, body_ok)
        return damage(response, fault, instance)

    async def _dispatch(self, request: Request, body: Any, body_ok: bool) -> Response:
        """CapRover's global checks, in the real server's order, then login or /user."""
        instance = self.instance
        if not body_ok:
            return internal_server_error()  # body-parser error, no CapRover code
        namespace = request.headers.get("x-namespace")
        if namespace and namespace != "captain":
            return envelope(1000, "Namespace unknown")
        segments = [s for s in request.path.split("/") if s]
        lowered = [s.lower() for s in segments]
        if lowered == ["checkhealth"]:
            if instance.phase is not Phase.RUNNING:
                return internal_server_error()
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
            return login(instance, fields)
        if route[:1] == ["user"]:
            return await self.user_routes.answer(request, segments[3:], route[1:], fields)
        return http_error(404, "Not Found")


def _parse_body(request: Request) -> tuple[Any, bool]:
    """The JSON or form body, and False when JSON does not parse (Express answers 500)."""
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
