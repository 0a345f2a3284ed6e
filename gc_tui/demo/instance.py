"""The data of one fake CapRover server: its apps, its settings, its faults, what it received.

Everything here is plain data, plus ``state`` (``captain_state``): what a real CapRover process
keeps in memory and loses on restart. The behaviour lives in ``captain.py`` and the modules it
serves from (``login``, ``builds``, ``self_update``, ...).
Mutate a running instance only from the fleet's event loop (``FakeFleetThread.call``) or, for
plain attribute assignments such as ``instance.fault = "html"``, from any thread. The build gate
(``hold_builds``, ``release_builds``) may be driven from any thread.
"""

from __future__ import annotations

import fnmatch
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Any

from gc_tui.demo.build_gate import BuildGate
from gc_tui.demo.captain_state import BuildOutcome, CaptainState
from gc_tui.demo.change_signal import WAIT_LIMIT_SECONDS, ChangeSignal, wait_until

MAX_VERSION_HISTORY = 50
MASK = "***"
_SECRET_BODY_KEYS = frozenset({"password", "otpToken", "newPassword", "oldPassword"})


class Fault(StrEnum):
    """Ways a whole server misbehaves; they apply to every route, /checkhealth included.

    ``unreachable`` is read when the fleet starts (use ``FakeFleet.take_down`` later on).
    ``truncated`` and ``drip`` damage the real answer, so the request's effect (a deploy, say)
    still happens; every other fault answers without touching CapRover's state.
    """

    UNREACHABLE = "unreachable"
    HTML = "html"
    NOT_JSON = "not_json"
    EMPTY = "empty"
    TRUNCATED = "truncated"
    HTTP500 = "http500"
    REDIRECT_OTHER_HOST = "redirect_other_host"
    REDIRECT_TO_HTTP = "redirect_to_http"
    SLOW = "slow"
    DRIP = "drip"
    SILENT = "silent"
    HUGE = "huge"


class RestartMode(StrEnum):
    """What a client sees while the captain container restarts after a self-update."""

    REFUSE = "refuse"  # nothing listens on the port
    BAD_GATEWAY = "502"  # nginx answers 502


class Phase(StrEnum):
    RUNNING = "running"
    DOWN = "down"
    NOT_READY = "not_ready"


def iso_now() -> str:
    """CapRover's timeStamp format: ISO-8601 UTC with milliseconds and a ``Z``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@lru_cache(maxsize=256)  # a fleet has a handful of versions, compared on every request
def version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for piece in version.strip().lstrip("v").split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def mask_body(body: Any) -> Any:
    """A request body as it may be kept: passwords and OTP codes replaced by ``***``."""
    if isinstance(body, dict):
        return {k: (MASK if k in _SECRET_BODY_KEYS else v) for k, v in body.items()}
    return body


@dataclass
class RecordedRequest:
    """One request as the fake received it; headers are not kept (they carry tokens)."""

    method: str
    path: str
    query: dict[str, str]
    body: Any  # parsed JSON or form body with secrets masked; None when absent or unparsable
    at: float  # time.monotonic() on arrival


@dataclass(eq=False)
class FakeApp:
    """One app as CapRover stores it. ``versions`` holds the raw ``versions[]`` entries."""

    name: str
    versions: list[dict[str, Any]] = field(default_factory=list)
    deployed_version: int = 0
    env_vars: list[dict[str, str]] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    project_id: str = ""
    has_persistent_data: bool = False
    instance_count: int = 1
    container_http_port: int = 80
    not_expose_as_web_app: bool = False
    is_legacy_app_name: bool = True
    description: str = ""
    volumes: list[dict[str, Any]] = field(default_factory=list)
    ports: list[dict[str, Any]] = field(default_factory=list)
    custom_domain: list[dict[str, Any]] = field(default_factory=list)
    has_default_sub_domain_ssl: bool = True
    force_ssl: bool = True
    websocket_support: bool = False

    @classmethod
    def with_history(
        cls,
        name: str,
        images: list[str | None],
        *,
        last_deployed_at: datetime | None = None,
        **fields: Any,
    ) -> FakeApp:
        """An app whose versions 0..n-1 carry ``images`` (None = a failed deploy).

        The deployed version is the last one with an image; entries are a week apart.
        """
        if not images:
            raise ValueError("an app needs at least one version")
        end = last_deployed_at or datetime(2026, 8, 20, 14, 30, tzinfo=UTC)
        versions: list[dict[str, Any]] = []
        for number, image in enumerate(images):
            stamp = end - timedelta(days=7 * (len(images) - 1 - number))
            entry: dict[str, Any] = {
                "version": number,
                "timeStamp": stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            }
            if image is not None:
                entry["deployedImageName"] = image
                entry["gitHash"] = ""
            versions.append(entry)
        deployed = max((v["version"] for v in versions if "deployedImageName" in v), default=0)
        return cls(name=name, versions=versions, deployed_version=deployed, **fields)

    @property
    def deployed_image(self) -> str | None:
        for entry in self.versions:
            if entry["version"] == self.deployed_version:
                image = entry.get("deployedImageName")
                return image if isinstance(image, str) else None
        return None

    def create_new_version(self) -> dict[str, Any]:
        """Append a version entry as CapRover does before a pull or build."""
        highest = max((int(v["version"]) for v in self.versions), default=-1)
        number = max(len(self.versions), highest + 1)
        del self.versions[: -(MAX_VERSION_HISTORY - 1)]
        entry: dict[str, Any] = {"version": number, "timeStamp": iso_now()}
        self.versions.append(entry)
        return entry


def _new_token_version() -> str:
    return secrets.token_hex(32)


@dataclass(eq=False)
class FakeInstance:
    """One fake CapRover server. Times are in seconds; tests shrink them."""

    name: str
    password: str
    apps: list[FakeApp] = field(default_factory=list)
    version: str = "1.15.3"
    latest_version: str | None = None  # None: the same as ``version`` (nothing to update)
    otp_secret: str | None = None  # base32; 2FA is on when set (1.11+)
    root_domain: str = ""
    fault: Fault | str | None = None
    latency_seconds: float = 0.0
    build_seconds: float = 1.0
    service_update_seconds: float = 2.0
    # Images whose pull fails: exact names or fnmatch patterns; tags starting "missing" too.
    failing_images: set[str] = field(default_factory=set)
    # Images whose docker service update fails after the build succeeded, once a poller may
    # already have seen the build end cleanly (docs/caprover-api.md, "The build log").
    service_update_failing_images: set[str] = field(default_factory=set)
    version_check_fails: bool = False
    changelog: str = "Bug fixes and improvements."
    update_fails: bool = False
    update_pull_seconds: float = 1.0
    restart_mode: RestartMode | str = RestartMode.REFUSE
    restart_seconds: float = 3.0
    not_ready_seconds: float = 2.0
    never_returns: bool = False
    backoff_window_seconds: float = 30.0
    slow_seconds: float = 5.0
    drip_interval: float = 0.05
    huge_bytes: int = 100 * 1024 * 1024
    env_secret: str = field(default_factory=lambda: "pg-" + secrets.token_hex(8))

    requests: list[RecordedRequest] = field(default_factory=list, init=False, repr=False)
    token_version: str = field(default_factory=_new_token_version, init=False, repr=False)
    phase: Phase = field(default=Phase.RUNNING, init=False)
    state: CaptainState = field(default_factory=CaptainState, init=False, repr=False)
    # Every token ever issued, so a stale one can be told apart from garbage.
    tokens: dict[str, str] = field(default_factory=dict, init=False, repr=False)
    # Test controls, not CapRover state: a restart keeps them.
    build_gate: BuildGate = field(default_factory=BuildGate, init=False, repr=False)
    # Notified on every recorded request, every build held at the gate, every build whose
    # isAppBuilding goes false or whose task ends, and every restart phase.
    changes: ChangeSignal = field(default_factory=ChangeSignal, init=False, repr=False)

    def __post_init__(self) -> None:
        # Fail at construction, not on the first request, for a misspelt fault or mode.
        if self.fault:
            self.fault = Fault(self.fault)
        self.restart_mode = RestartMode(self.restart_mode)

    def __repr__(self) -> str:  # the dataclass repr would show the password
        return f"FakeInstance(name={self.name!r}, version={self.version!r}, apps={len(self.apps)})"

    # -- lookups -----------------------------------------------------------------------------

    @property
    def active_fault(self) -> Fault | None:
        return Fault(self.fault) if self.fault else None

    @property
    def newest_version(self) -> str:
        return self.latest_version or self.version

    def at_least(self, version: str) -> bool:
        return version_tuple(self.version) >= version_tuple(version)

    def app(self, name: str) -> FakeApp | None:
        for app in self.apps:
            if app.name == name:
                return app
        return None

    def pull_fails(self, image: str) -> bool:
        return _tag_of(image).startswith("missing") or _matches(image, self.failing_images)

    def service_update_fails(self, image: str) -> bool:
        return _matches(image, self.service_update_failing_images)

    # -- the request record ------------------------------------------------------------------

    def deploy_requests(self) -> list[tuple[str, str]]:
        """(app, imageName) of every deploy POST, in arrival order ("" when unreadable)."""
        return [deploy for deploy in map(deploy_in, self.requests) if deploy is not None]

    def update_requests(self) -> list[str]:
        """The ``latestVersion`` of every self-update POST, in arrival order."""
        return [
            str(r.body.get("latestVersion", "")) if isinstance(r.body, dict) else ""
            for r in self.requests
            if r.method == "POST"
            and r.path.lower().rstrip("/") == "/api/v2/user/system/versioninfo"
        ]

    def login_attempts(self) -> int:
        return sum(
            1
            for r in self.requests
            if r.method == "POST" and r.path.lower().rstrip("/") == "/api/v2/login"
        )

    def record(self, method: str, path: str, query: dict[str, str], body: Any) -> None:
        self.requests.append(
            RecordedRequest(method, path, query, mask_body(body), time.monotonic())
        )
        self.changes.notify()

    # -- for tests: holding builds, waiting for the record -----------------------------------

    def hold_builds(self) -> None:
        """From now on each build waits at the end of its image pull until released.

        Meanwhile the app reports isAppBuilding true, and builds queued behind it wait too.
        Safe from any thread; holding survives a restart (held builds die with the process).
        """
        self.build_gate.hold()

    def release_builds(self, *, fail: bool = False) -> None:
        """Let the held builds end, as failed pulls if ``fail``, and stop holding new ones."""
        self.build_gate.release(fail=fail)

    def held_builds(self) -> list[str]:
        """The apps whose builds wait at the gate now."""
        return self.build_gate.held()

    async def wait_until(
        self, condition: Callable[[], object], *, timeout: float | None = WAIT_LIMIT_SECONDS
    ) -> None:
        """Return once ``condition()`` holds, re-checked whenever ``changes`` is notified.

        Await it on the fleet's loop (``FakeFleetThread.wait_until`` does that from a thread).
        """
        await wait_until(condition, [self.changes], timeout=timeout)

    # -- lifecycle ---------------------------------------------------------------------------

    def restart(self) -> None:
        """A CapRover restart: old tokens go stale, logs, queue, back-off and lock are lost.

        Call it on the fleet's loop (running builds are cancelled, as the process dies).
        """
        for task in self.state.tasks:
            task.cancel()
        for queued in self.state.queue:
            if not queued.outcome.done():
                queued.outcome.set_result(BuildOutcome(False))
        self.state = CaptainState()
        self.token_version = _new_token_version()
        self.phase = Phase.RUNNING
        self.changes.notify()


def deploy_in(request: RecordedRequest) -> tuple[str, str] | None:
    """(app, imageName) when ``request`` is a deploy POST ("" for an unreadable image)."""
    parts = request.path.strip("/").split("/")
    if request.method != "POST" or len(parts) != 6:
        return None
    if [p.lower() for p in parts[:5]] != ["api", "v2", "user", "apps", "appdata"]:
        return None
    return parts[5], _image_in(request.body)


def _tag_of(image: str) -> str:
    last = image.split("@", 1)[0].rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else "latest"


def _matches(image: str, patterns: set[str]) -> bool:
    return any(image == p or fnmatch.fnmatchcase(image, p) for p in patterns)


def _image_in(body: Any) -> str:
    if not isinstance(body, dict):
        return ""
    content = body.get("captainDefinitionContent")
    if not isinstance(content, str):
        return ""
    try:
        definition = json.loads(content)
    except ValueError:
        return ""
    image = definition.get("imageName") if isinstance(definition, dict) else None
    return image if isinstance(image, str) else ""
