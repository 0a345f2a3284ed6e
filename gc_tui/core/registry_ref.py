"""Where a repository lives: which registry host, which URL to ask, which path on it.

``images.ImageRef.repository`` already normalises a reference (``postgres`` is
``docker.io/library/postgres``); this module turns that into the address of the registry's
API. Docker Hub's API lives on ``registry-1.docker.io``, not on ``docker.io``; every registry is
spoken to over HTTPS except one on a loopback address, which gets plain HTTP as Docker does;
and a mirror named in the config (``[registries."HOST"] url``) takes the traffic of its host.
The facts and their sources are in docs/registries.md.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from gc_tui.core.images import DOCKER_HUB, InvalidImage, parse_image

DOCKER_HUB_API = "https://registry-1.docker.io"
_DOCKER_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})


@dataclass(frozen=True)
class RegistryLocation:
    """One repository's address on the registry API."""

    repository: str  # normalised: "docker.io/library/postgres", "ghcr.io/windmill-labs/windmill"
    host: str  # the registry as image names spell it ("docker.io"): the [registries] key
    origin: str  # where requests go: "https://registry-1.docker.io", a mirror, "http://[::1]:5000"
    path: str  # the repository's name on the registry: "library/postgres"

    @property
    def pull_scope(self) -> str:
        """The token scope a read needs (docs/registries.md, "The bearer-token dance")."""
        return f"repository:{self.path}:pull"

    def url(self, tail: str) -> str:
        return f"{self.origin}/v2/{self.path}/{tail}"


def canonical_host(host: str) -> str:
    """``index.docker.io`` and ``registry-1.docker.io`` are Docker Hub, like ``docker.io``."""
    lowered = host.lower()
    return DOCKER_HUB if lowered in _DOCKER_HUB_ALIASES else lowered


def is_loopback_host(host: str) -> bool:
    """``localhost``, 127.0.0.0/8 and ::1, with or without a port (``[::1]:5000``)."""
    name = host.lower()
    if name.startswith("["):
        name = name[1 : name.find("]")] if "]" in name else name[1:]
    elif name.count(":") == 1:
        name = name.partition(":")[0]
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def default_origin(host: str) -> str:
    """The API origin of a registry host when no mirror is configured for it."""
    if canonical_host(host) == DOCKER_HUB:
        return DOCKER_HUB_API
    scheme = "http" if is_loopback_host(host) else "https"
    return f"{scheme}://{host.lower()}"


def allowed_origin(url: str) -> bool:
    """HTTPS anywhere; plain HTTP only to this machine, where no network can read it."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        return bool(parts.hostname)
    return (
        parts.scheme == "http"
        and parts.hostname is not None
        and is_loopback_host(parts.netloc.rpartition("@")[2])
    )


def locate(repository: str, mirrors: Mapping[str, str] | None = None) -> RegistryLocation:
    """The address of ``repository`` (any spelling ``parse_image`` takes, tag or not).

    ``mirrors`` maps a registry host (``docker.io``, ``ghcr.io``) to the origin that serves it.
    Raises InvalidImage for a reference Docker would refuse.
    """
    normalised = parse_image(repository).repository
    host, _, path = normalised.partition("/")
    if not path:
        raise InvalidImage(repository, "it names no repository")
    origin = (mirrors or {}).get(canonical_host(host)) or default_origin(host)
    return RegistryLocation(normalised, host, origin.rstrip("/"), path)
