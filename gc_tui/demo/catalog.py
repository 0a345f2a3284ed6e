"""Fleets to serve: the packaged demo fleet, and synthetic fleets of any size for benchmarks."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Mapping
from datetime import date, timedelta
from importlib import resources
from typing import Any

from gc_tui.core.images import is_server_build
from gc_tui.demo.instance import FakeApp, FakeInstance, Fault

_DATE_BUILD = re.compile(r"^(?P<pre>.*?)(?P<date>20\d{6})-(?P<num>\d+)(?P<suf>.*)$")
_SEMVER = re.compile(r"^(?P<pre>v?)(?P<major>\d+)\.(?P<minor>\d+)\.(?P<patch>\d+)(?P<suf>.*)$")

GROUPS = {
    "superset": ("superset", "superset-worker", "superset-init-and-beat"),
    "windmill": ("windmill", "windmill-worker", "windmill-worker-native"),
}
_GROUP_OF = {member: group for group, members in GROUPS.items() for member in members}

# Per-app settings that make the listing look like a real GC instance; the env values include
# a fake database password so clients can be checked for never echoing raw responses.
_APP_SHAPES: dict[str, dict[str, Any]] = {
    "postgres": {
        "has_persistent_data": True,
        "not_expose_as_web_app": True,
        "container_http_port": 5432,
        "env": ["POSTGRES_USER", "POSTGRES_PASSWORD"],
        "volumes": [{"containerPath": "/var/lib/postgresql/data", "volumeName": "postgres-data"}],
    },
    "redis": {
        "not_expose_as_web_app": True,
        "container_http_port": 6379,
        "env": ["REDIS_PASSWORD"],
    },
    "files": {
        "has_persistent_data": True,
        "container_http_port": 80,
        "volumes": [{"containerPath": "/srv", "hostPath": "/mnt/persistent-storage"}],
    },
    "windmill": {"container_http_port": 8000, "env": ["DATABASE_URL", "MODE"]},
    "windmill-worker": {"not_expose_as_web_app": True, "env": ["DATABASE_URL", "MODE"]},
    "windmill-worker-native": {"not_expose_as_web_app": True, "env": ["DATABASE_URL", "MODE"]},
    "windmill-lsp": {"container_http_port": 3001, "websocket_support": True},
    "superset": {
        "container_http_port": 8088,
        "env": ["SUPERSET_SECRET_KEY", "DATABASE_PASSWORD", "REDIS_HOST"],
    },
    "superset-worker": {
        "not_expose_as_web_app": True,
        "env": ["SUPERSET_SECRET_KEY", "DATABASE_PASSWORD"],
    },
    "superset-init-and-beat": {
        "not_expose_as_web_app": True,
        "env": ["SUPERSET_SECRET_KEY", "DATABASE_PASSWORD"],
    },
    "gc-landing-page": {"container_http_port": 8080, "env": ["AUTH0_CLIENT_SECRET"]},
    "explorer": {"container_http_port": 8080, "env": ["DATABASE_PASSWORD", "MAPBOX_TOKEN"]},
    "comapeo": {
        "has_persistent_data": True,
        "container_http_port": 8080,
        "env": ["SERVER_BEARER_TOKEN"],
    },
}

# The twelve apps of a typical GC instance with their current (target) images.
GC_APPS: tuple[tuple[str, str], ...] = (
    ("postgres", "postgres:17"),
    ("redis", "redis:7.2.4"),
    ("files", "filebrowser/filebrowser:v2.36.1-s6"),
    ("windmill", "ghcr.io/windmill-labs/windmill:1.775.2"),
    ("windmill-worker", "ghcr.io/windmill-labs/windmill:1.775.2"),
    ("windmill-worker-native", "ghcr.io/windmill-labs/windmill:1.775.2"),
    ("superset", "communityfirst/superset-deployment:6.1.0_20260803-1652"),
    ("superset-worker", "communityfirst/superset-deployment:6.1.0_20260803-1652"),
    ("superset-init-and-beat", "communityfirst/superset-deployment:6.1.0_20260803-1652"),
    ("gc-landing-page", "communityfirst/guardianconnector-landing-page:20260728-165"),
    ("explorer", "communityfirst/guardianconnector-explorer:20260731-948"),
    ("comapeo", "communityfirst/gc-comapeo-cloud:0.4.0"),
)


def older_image(image: str, steps: int) -> str:
    """A plausible image ``steps`` releases before ``image`` (same repository), else itself.

    Dated tags go back a week per step; semver tags go back a patch, then a minor, per step.
    Floating tags (``latest``, ``17``, ``v2``) have no history to derive, so they repeat.
    """
    if steps <= 0:
        return image
    name, _, digest = image.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon <= slash or digest:
        return image
    repository, tag = name[:colon], name[colon + 1 :]
    match = _DATE_BUILD.match(tag)
    if match:
        day = date(int(match["date"][:4]), int(match["date"][4:6]), int(match["date"][6:]))
        older_day = (day - timedelta(days=7 * steps)).strftime("%Y%m%d")
        number = match["num"]
        if not match["pre"].endswith("_"):  # a CI build number, not a time of day
            number = str(max(1, int(number) - 5 * steps))
        return f"{repository}:{match['pre']}{older_day}-{number}{match['suf']}"
    match = _SEMVER.match(tag)
    if match:
        major, minor, patch = int(match["major"]), int(match["minor"]), int(match["patch"])
        for _ in range(steps):
            if patch > 0:
                patch -= 1
            elif minor > 0:
                minor -= 1
            else:
                break
        return f"{repository}:{match['pre']}{major}.{minor}.{patch}{match['suf']}"
    return image


def history_images(app_name: str, image: str, versions_count: int) -> list[str | None]:
    """Images for versions 0..n-1, the last being ``image``, so a rollback has a target."""
    if is_server_build(image):
        prefix = image.rsplit(":", 1)[0] if ":" in image.rsplit("/", 1)[-1] else image
        builds: list[str | None] = [f"{prefix}:{n}" for n in range(versions_count - 1)]
        return [*builds, image]
    return [older_image(image, versions_count - 1 - n) for n in range(versions_count)]


def make_app(
    app_name: str,
    image: str,
    versions_count: int,
    *,
    instance_version: str,
    instance_name: str,
    env_secret: str,
) -> FakeApp:
    shape = _APP_SHAPES.get(app_name, {})
    group = _GROUP_OF.get(app_name)
    on_115 = tuple(int(p) for p in instance_version.split(".")[:2]) >= (1, 15)
    env_vars = [
        {"key": key, "value": _env_value(key, env_secret, instance_name)}
        for key in shape.get("env", [])
    ]
    return FakeApp.with_history(
        app_name,
        history_images(app_name, image, versions_count),
        env_vars=env_vars,
        tags=[group] if group else [],
        project_id=f"{group}-{instance_name}-project" if group and on_115 else "",
        has_persistent_data=shape.get("has_persistent_data", False),
        not_expose_as_web_app=shape.get("not_expose_as_web_app", False),
        container_http_port=shape.get("container_http_port", 80),
        websocket_support=shape.get("websocket_support", False),
        volumes=list(shape.get("volumes", [])),
        description=f"{group} (one-click app)" if group else "",
    )


def _env_value(key: str, env_secret: str, instance_name: str) -> str:
    if key == "MODE":
        return "server"
    if key == "REDIS_HOST":
        return "srv-captain--redis"
    if key == "POSTGRES_USER":
        return "postgres"
    if key == "DATABASE_URL":
        return f"postgres://postgres:{env_secret}@srv-captain--postgres:5432/windmill"
    return f"{env_secret}-{key.lower()}"


# -- the packaged demo fleet -----------------------------------------------------------------


def demo_fleet_data() -> dict[str, Any]:
    """The packaged copy of demo_fleet.json."""
    text = resources.files("gc_tui.demo").joinpath("data/demo_fleet.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def demo_instances(
    *,
    build_seconds: float = 3.0,
    service_update_seconds: float = 2.0,
    latency_seconds: float = 0.0,
    **instance_options: Any,
) -> list[FakeInstance]:
    """The 12 demo instances; passwords are the JSON's, except where the scenario says wrong."""
    data = demo_fleet_data()
    latest = str(data.get("latest_caprover_version") or "")
    instances = []
    for spec in data["instances"]:
        name = str(spec["name"])
        version = str(spec["caprover_version"])
        env_secret = f"demo-db-{name}-S3cr3t"
        password = str(spec["password"])
        if spec.get("fault") == "wrong_password":
            password += "-rotated"  # the vault keeps the old one, so login answers 1105
        host = str(spec["url"]).split("://", 1)[-1].rstrip("/")
        instance = FakeInstance(
            name=name,
            password=password,
            version=version,
            latest_version=latest or None,
            root_domain=host.removeprefix("captain."),
            fault=Fault.UNREACHABLE if spec.get("fault") == "unreachable" else None,
            build_seconds=build_seconds,
            service_update_seconds=service_update_seconds,
            latency_seconds=latency_seconds,
            env_secret=env_secret,
            **instance_options,
        )
        instance.apps = [
            make_app(
                str(app["appName"]),
                str(app["image"]),
                int(app["versions_count"]),
                instance_version=version,
                instance_name=name,
                env_secret=env_secret,
            )
            for app in spec["apps"]
        ]
        instances.append(instance)
    return instances


def demo_vault_entries(urls: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """(title, url, password) for the vault, pointing at the running fakes' ``urls``."""
    return [
        (str(spec["name"]), urls[str(spec["name"])], str(spec["password"]))
        for spec in demo_fleet_data()["instances"]
        if str(spec["name"]) in urls
    ]


# -- synthetic fleets for benchmarks ---------------------------------------------------------


def synthetic_fleet(
    n_instances: int,
    apps_per_instance: int = 12,
    *,
    seed: int = 0,
    **instance_options: Any,
) -> list[FakeInstance]:
    """``n_instances`` GC-like instances: groups move together, some apps lag behind.

    Deterministic for a given seed. Beyond the twelve GC apps, extra apps are custom ones.
    """
    rng = random.Random(seed)
    instances = []
    for index in range(n_instances):
        name = f"gc-{index:04d}"
        version = rng.choices(["1.15.3", "1.14.1", "1.13.1"], weights=[8, 1, 1])[0]
        env_secret = f"syn-db-{rng.getrandbits(48):012x}"
        group_lag = {group: rng.choice([0, 0, 1, 2]) for group in GROUPS}
        apps = []
        for position in range(apps_per_instance):
            if position < len(GC_APPS):
                app_name, target = GC_APPS[position]
                group = _GROUP_OF.get(app_name)
                lag = group_lag[group] if group else rng.choice([0, 0, 0, 1])
                if app_name in ("postgres", "redis", "files"):
                    lag = 0
                image = older_image(target, lag)
            else:
                app_name = f"custom-app-{position - len(GC_APPS) + 1}"
                image = f"registry.example.org/cmi/{app_name}:latest"
            versions_count = 1 if app_name in ("postgres", "redis", "files") else rng.randint(2, 30)
            apps.append(
                make_app(
                    app_name,
                    image,
                    versions_count,
                    instance_version=version,
                    instance_name=name,
                    env_secret=env_secret,
                )
            )
        instances.append(
            FakeInstance(
                name=name,
                password=f"synthetic-{index:04d}-{rng.getrandbits(32):08x}",
                apps=apps,
                version=version,
                latest_version="1.15.3",
                root_domain=f"{name}.example.org",
                env_secret=env_secret,
                **instance_options,
            )
        )
    return instances
