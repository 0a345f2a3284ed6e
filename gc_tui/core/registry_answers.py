"""The registry API's answers, read defensively: JSON shapes, digests, ``Link`` headers.

Everything here is text from a server: tags are checked against Docker's tag grammar before
they are used in a URL, digests against their format, and a document of the wrong shape is a
``registry error``, never an exception from deep inside a parser.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit

import httpx
import orjson

from gc_tui.core.images import is_valid_tag
from gc_tui.core.registry_errors import LookupProblem, RegistryError

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MANIFEST_TYPES = (OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST)
ACCEPT_MANIFESTS = ", ".join(MANIFEST_TYPES)

DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_LINK = re.compile(r"<([^>]*)>((?:\s*;\s*[^;,]*)*)")
_REL_NEXT = re.compile(r"""\brel\s*=\s*"?[^";,]*\bnext\b""", re.IGNORECASE)


class Answer(Protocol):
    """What core/http.py's ``fetch`` returns, as far as this client reads it."""

    @property
    def status(self) -> int: ...
    @property
    def headers(self) -> httpx.Headers: ...
    @property
    def body(self) -> bytes: ...


def raise_for_status(answer: Answer, what: str) -> None:
    status = answer.status
    if status == 200:
        return
    if status == 404:
        raise RegistryError(LookupProblem.NOT_FOUND)
    if status in (401, 403):
        raise RegistryError(LookupProblem.DENIED, f"HTTP {status} for {what}")
    raise RegistryError(LookupProblem.REGISTRY_ERROR, f"HTTP {status} for {what}")


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def checked_tag(tag: str) -> str:
    # Tags come from registries and caches: one with '/' or '?' must not reshape the URL.
    if not is_valid_tag(tag):
        raise RegistryError(LookupProblem.NOT_AN_IMAGE, "not a valid tag")
    return tag


def json_object(body: bytes, what: str) -> dict[str, Any]:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise RegistryError(LookupProblem.REGISTRY_ERROR, f"{what} is not JSON") from None
    if not isinstance(document, dict):
        raise RegistryError(LookupProblem.REGISTRY_ERROR, f"{what} is not a JSON object")
    return document


def tags_of(body: bytes) -> list[str]:
    tags = json_object(body, "the tag list").get("tags")
    if tags is None:  # distribution answers null for a repository with no tags left
        return []
    if not isinstance(tags, list):
        raise RegistryError(LookupProblem.REGISTRY_ERROR, "the tag list has no list of tags")
    return [tag for tag in tags if isinstance(tag, str) and is_valid_tag(tag)]


def next_link(values: list[str], current: str) -> str | None:
    for value in values:
        for match in _LINK.finditer(value):
            if _REL_NEXT.search(match[2]):
                return urljoin(current, str(match[1]))
    return None


def digest_of(answer: Answer) -> str:
    header = answer.headers.get("docker-content-digest", "")
    if DIGEST.fullmatch(header):
        return str(header)
    return "sha256:" + hashlib.sha256(answer.body).hexdigest()


def is_index(manifest: dict[str, Any], answer: Answer) -> bool:
    media_type = manifest.get("mediaType") or answer.headers.get("content-type", "")
    return media_type in (OCI_INDEX, DOCKER_LIST) or isinstance(manifest.get("manifests"), list)


def platform_manifest(index: dict[str, Any]) -> str | None:
    """linux/amd64 if the index has it, else its first real platform (not an attestation)."""
    fallback: str | None = None
    for entry in index.get("manifests") or []:
        if not isinstance(entry, dict):
            continue
        digest = entry.get("digest")
        platform = entry.get("platform")
        if not isinstance(platform, dict):
            platform = {}
        if not isinstance(digest, str) or not DIGEST.fullmatch(digest):
            continue
        if platform.get("os") == "linux" and platform.get("architecture") == "amd64":
            return digest
        if fallback is None and platform.get("os") not in (None, "unknown"):
            fallback = digest
    return fallback
