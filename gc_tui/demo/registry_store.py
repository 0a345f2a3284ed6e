"""Images as a registry holds them: content-addressed blobs and manifests, and tags.

``image_documents`` builds one small image (a layer, a config blob with ``created``, an OCI
manifest, and for several platforms an OCI index) exactly as it is pushed to a registry, so the
fake registry and the tests that push to Debian's docker-registry use the same bytes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def digest_of(content: bytes) -> str:
    return "sha256:" + hashlib.sha256(content).hexdigest()


def _canonical(document: object) -> bytes:
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


def rfc3339(moment: datetime) -> str:
    """As Go writes it in image configs: UTC, nanoseconds, ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f000Z")


@dataclass(frozen=True)
class Document:
    """One thing to push: a blob, or a manifest (media type set)."""

    digest: str
    content: bytes
    media_type: str | None = None  # None for a blob

    @property
    def is_manifest(self) -> bool:
        return self.media_type is not None


def image_documents(
    name: str,
    tag: str,
    created: datetime,
    *,
    platforms: Sequence[str] = ("linux/amd64",),
    attestation: bool = False,
) -> list[Document]:
    """Blobs first, then manifests, the tagged one last (push order).

    With more than one platform (or an attestation, as buildx adds with platform
    ``unknown/unknown``) the tag names an OCI index over the platform manifests.
    """
    documents: list[Document] = []
    entries: list[dict[str, object]] = []
    wanted = [(p, False) for p in platforms] + ([("unknown/unknown", True)] if attestation else [])
    for platform, is_attestation in wanted:
        os_name, _, architecture = platform.partition("/")
        layer = f"{name}:{tag}:{platform}:{rfc3339(created)}".encode()
        config = _canonical(
            {
                "architecture": architecture,
                "os": os_name,
                "created": rfc3339(created),
                "config": {"Labels": {"org.opencontainers.image.version": tag}},
                "rootfs": {"type": "layers", "diff_ids": [digest_of(layer)]},
            }
        )
        manifest = _canonical(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {
                    "mediaType": OCI_CONFIG,
                    "digest": digest_of(config),
                    "size": len(config),
                },
                "layers": [
                    {"mediaType": OCI_LAYER, "digest": digest_of(layer), "size": len(layer)}
                ],
            }
        )
        documents += [Document(digest_of(layer), layer), Document(digest_of(config), config)]
        documents.append(Document(digest_of(manifest), manifest, OCI_MANIFEST))
        entry: dict[str, object] = {
            "mediaType": OCI_MANIFEST,
            "digest": digest_of(manifest),
            "size": len(manifest),
            "platform": {"os": os_name, "architecture": architecture},
        }
        if is_attestation:
            entry["annotations"] = {"vnd.docker.reference.type": "attestation-manifest"}
        entries.append(entry)
    if len(entries) > 1:
        index = _canonical({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries})
        documents.append(Document(digest_of(index), index, OCI_INDEX))
    return documents


@dataclass
class Repository:
    tags: dict[str, str] = field(default_factory=dict)  # tag -> digest, in order of first push
    private: bool = False


class RegistryStore:
    """What a registry holds; tags keep the order they were first pushed in."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.manifests: dict[str, tuple[str, bytes]] = {}  # digest -> (media type, bytes)
        self.repositories: dict[str, Repository] = {}

    def push(
        self,
        name: str,
        tag: str,
        created: datetime,
        *,
        platforms: Sequence[str] = ("linux/amd64",),
        attestation: bool = False,
    ) -> str:
        """Push an image under ``tag`` (moving the tag if it exists); returns its digest."""
        documents = image_documents(
            name, tag, created, platforms=platforms, attestation=attestation
        )
        for document in documents:
            if document.media_type is None:
                self.blobs[document.digest] = document.content
            else:
                self.manifests[document.digest] = (document.media_type, document.content)
        digest = documents[-1].digest
        self.repositories.setdefault(name, Repository()).tags[tag] = digest
        return digest

    def make_private(self, name: str) -> None:
        self.repositories.setdefault(name, Repository()).private = True
