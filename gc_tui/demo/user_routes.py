"""The /api/v2/user routes of a fake CapRover: the token check, the 429 lock, the route table.

Every non-GET request under /user holds one lock per server for as long as it is answered;
another non-GET meanwhile gets HTTP 429 (docs/caprover-api.md, "The namespace lock").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gc_tui.demo.app_listing import AppListing
from gc_tui.demo.builds import Builds
from gc_tui.demo.http_wire import Request, Response
from gc_tui.demo.instance import FakeInstance
from gc_tui.demo.login import token_refusal
from gc_tui.demo.responses import HTML, LOCKED_TEXT, app_not_found, envelope, http_error
from gc_tui.demo.self_update import SelfUpdate


class UserRoutes:
    """Answers every request under /api/v2/user for one instance."""

    def __init__(
        self,
        instance: FakeInstance,
        *,
        listing: AppListing,
        builds: Builds,
        self_update: SelfUpdate,
    ) -> None:
        self.instance = instance
        self.listing = listing
        self.builds = builds
        self.self_update = self_update

    async def answer(
        self, request: Request, segments: list[str], route: list[str], body: dict[str, Any]
    ) -> Response:
        """``segments`` are the path after /api/v2/user as sent, ``route`` the same lower-cased."""
        instance = self.instance
        refusal = token_refusal(instance, request.headers.get("x-captain-auth", ""))
        if refusal is not None:
            return refusal
        release: Callable[[], None] | None = None
        if request.method != "GET":
            if instance.state.lock_holder is not None:
                return http_error(429, LOCKED_TEXT, HTML)
            release = _take_lock(instance)
        try:
            response = await self._route(request, segments, route, body)
        except BaseException:
            if release is not None:
                release()
            raise
        if release is not None:
            response.on_finished.append(release)
        return response

    async def _route(
        self, request: Request, segments: list[str], route: list[str], body: dict[str, Any]
    ) -> Response:
        method = request.method
        if route == ["apps", "appdefinitions"] and method == "GET":
            return self.listing.response()
        if len(route) == 3 and route[:2] == ["apps", "appdata"]:
            if method == "GET":
                return self.builds.status(segments[2])
            if method == "POST":
                return await self.builds.deploy(segments[2], request.query, body)
        is_logs = len(route) == 4 and route[:2] == ["apps", "appdata"] and route[3] == "logs"
        if is_logs and method == "GET":
            if self.instance.app(segments[2]) is None:
                return app_not_found(segments[2])
            return envelope(100, "App runtime logs are retrieved", {"logs": ""})
        if route == ["system", "versioninfo"]:
            if method == "GET":
                return self.self_update.version_info()
            if method == "POST":
                return await self.self_update.start(body)
        if route == ["system", "info"] and method == "GET":
            return self._system_info()
        return http_error(404, "Not Found")

    def _system_info(self) -> Response:
        instance = self.instance
        data = {
            "hasRootSsl": bool(instance.root_domain),
            "forceSsl": bool(instance.root_domain),
            "rootDomain": instance.root_domain,
            "captainSubDomain": "captain",
        }
        return envelope(100, "Captain info retrieved", data)


def _take_lock(instance: FakeInstance) -> Callable[[], None]:
    """Hold the namespace lock; the returned function releases it (once, this holder only)."""
    state = instance.state
    holder = object()
    state.lock_holder = holder

    def release() -> None:
        if state.lock_holder is holder:
            state.lock_holder = None

    return release
