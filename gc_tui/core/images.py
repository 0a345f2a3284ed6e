"""Image references: parse, validate, classify and order their tags.

The grammar follows Docker's reference grammar (github.com/distribution/reference), with one
deliberate difference: the first path component only counts as a registry host when it looks
like one (contains ``.`` or ``:``, or is ``localhost``). Docker also treats an upper-case first
component as a host, which would let ``Communityfirst/explorer`` through as a registry called
``Communityfirst``; refusing it as an upper-case repository is the more helpful answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

_SERVER_BUILD = re.compile(r"(^|/)img-captain-[^/:]+(:[^/]*)?$")

DOCKER_HUB = "docker.io"
# Docker Hub answers to several host names; they all mean the same repositories.
_DOCKER_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})

_MAX_NAME_LENGTH = 255  # distribution/reference NameTotalLengthMax
_PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_DOMAIN_COMPONENT = re.compile(r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?")
_PORT = re.compile(r"[0-9]+")
_REGISTRY = re.compile(r"(\[[0-9a-fA-F:]+\]|[^:\[\]]+)(?::(.*))?")
_TAG = re.compile(r"[\w][\w.-]{0,127}", re.ASCII)
_DIGEST = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}")
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def is_server_build(image: str) -> bool:
    """True for CapRover's own builds, ``img-captain-<app>:<n>``, with or without a registry."""
    return bool(_SERVER_BUILD.search(image))


class InvalidImage(ValueError):
    """An image reference that Docker (and so CapRover) would refuse."""

    def __init__(self, reference: str, reason: str) -> None:
        super().__init__(f"{reference!r} is not a valid image reference: {reason}")
        self.reference = reference
        self.reason = reason


@dataclass(frozen=True)
class ImageRef:
    """A parsed image reference; fields hold what was written, ``repository`` is normalised."""

    registry: str | None  # host[:port] as written, None for Docker Hub by default
    path: str  # e.g. "postgres", "communityfirst/guardianconnector-explorer"
    tag: str | None
    digest: str | None  # "sha256:<hex>"

    @property
    def repository(self) -> str:
        """Registry and path in full, so ``postgres`` and ``docker.io/library/postgres`` match."""
        registry = (self.registry or DOCKER_HUB).lower()
        if registry in _DOCKER_HUB_ALIASES:
            path = self.path if "/" in self.path else f"library/{self.path}"
            return f"{DOCKER_HUB}/{path}"
        return f"{registry}/{self.path}"

    @property
    def familiar_repository(self) -> str:
        """The short form people type: ``postgres``, ``communityfirst/superset-deployment``."""
        full = self.repository
        for prefix in (f"{DOCKER_HUB}/library/", f"{DOCKER_HUB}/"):
            if full.startswith(prefix):
                return full[len(prefix) :]
        return full

    @property
    def effective_tag(self) -> str | None:
        """The tag Docker pulls: ``latest`` when none is written, unless a digest pins it."""
        if self.tag is None and self.digest is None:
            return "latest"
        return self.tag

    @property
    def floating(self) -> bool:
        """True when what the reference names can change without the reference changing."""
        if self.digest is not None:
            return False
        return is_floating_tag(self.tag)

    def __str__(self) -> str:
        text = f"{self.registry}/{self.path}" if self.registry else self.path
        if self.tag is not None:
            text += f":{self.tag}"
        if self.digest is not None:
            text += f"@{self.digest}"
        return text


def parse_image(ref: str) -> ImageRef:
    """Parse ``[host[:port]/]path[:tag][@digest]``; raise InvalidImage saying what is wrong."""
    _check_characters(ref)
    rest, digest = _split_digest(ref)
    name, tag = _split_tag(ref, rest)
    if len(name) > _MAX_NAME_LENGTH:
        raise InvalidImage(ref, f"the name is longer than {_MAX_NAME_LENGTH} characters")
    registry, path = _split_registry(name)
    if registry is not None:
        _check_registry(ref, registry)
    _check_path(ref, path)
    return ImageRef(registry=registry, path=path, tag=tag, digest=digest)


def _check_characters(ref: str) -> None:
    if ref == "":
        raise InvalidImage(ref, "it is empty")
    if ref != ref.strip():
        raise InvalidImage(ref, "it has leading or trailing whitespace")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in ref):
        raise InvalidImage(ref, "it contains a control character")
    if any(c.isspace() for c in ref):
        raise InvalidImage(ref, "it contains a space")
    if "://" in ref:
        raise InvalidImage(ref, "an image name has no URL scheme; drop the 'https://' part")
    if not ref.isascii():
        raise InvalidImage(ref, "it contains a non-ASCII character")


def _split_digest(ref: str) -> tuple[str, str | None]:
    if "@" not in ref:
        return ref, None
    rest, _, digest = ref.partition("@")
    if "@" in digest:
        raise InvalidImage(ref, "it contains more than one '@'")
    if not _DIGEST.fullmatch(digest):
        raise InvalidImage(ref, f"digest {digest!r} is not of the form 'sha256:<hex>'")
    algorithm, _, hex_part = digest.partition(":")
    if algorithm == "sha256" and not _SHA256_HEX.fullmatch(hex_part):
        raise InvalidImage(ref, "a sha256 digest has exactly 64 lower-case hex digits")
    return rest, digest


def _split_tag(ref: str, rest: str) -> tuple[str, str | None]:
    slash = rest.rfind("/")
    last_component = rest[slash + 1 :]
    if last_component.count(":") > 1:
        # The March 2026 typo "...landing-page:20260219-85:q" lands here.
        raise InvalidImage(
            ref, "it has more than one ':' after the last '/'; a tag cannot hold ':'"
        )
    if ":" not in last_component:
        return rest, None
    name, _, tag = rest.rpartition(":")
    if tag == "":
        raise InvalidImage(ref, "the tag after ':' is empty")
    if not _TAG.fullmatch(tag):
        raise InvalidImage(
            ref,
            f"tag {tag!r} must start with a letter, digit or '_', then use only letters, "
            "digits, '_', '.' or '-', at most 128 characters",
        )
    return name, tag


def _split_registry(name: str) -> tuple[str | None, str]:
    first, slash, remainder = name.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        return first, remainder
    return None, name


def _check_registry(ref: str, registry: str) -> None:
    match = _REGISTRY.fullmatch(registry)
    if match is None:
        raise InvalidImage(ref, f"registry {registry!r} is not host[:port]")
    host, port = match[1], match[2]
    if port is not None and not _PORT.fullmatch(port):
        raise InvalidImage(ref, f"registry port {port!r} is not a number")
    if host.startswith("["):
        return
    if not all(_DOMAIN_COMPONENT.fullmatch(part) for part in host.split(".")):
        raise InvalidImage(ref, f"registry host {host!r} is not a valid host name")


def _check_path(ref: str, path: str) -> None:
    if path == "":
        raise InvalidImage(ref, "the repository name is empty")
    for component in path.split("/"):
        if component == "":
            raise InvalidImage(
                ref, "the repository has an empty path component ('//' or a '/' at an end)"
            )
        if component != component.lower():
            raise InvalidImage(ref, f"repository part {component!r} must be lower-case")
        if not _PATH_COMPONENT.fullmatch(component):
            raise InvalidImage(
                ref,
                f"repository part {component!r} may only use lower-case letters and digits "
                "separated by '.', '_', '__' or '-'",
            )


def is_valid_tag(tag: str) -> bool:
    """True for a tag Docker accepts; a registry's listing is checked with it before use."""
    return bool(_TAG.fullmatch(tag))


@lru_cache(maxsize=8192)
def try_parse_image(ref: str) -> ImageRef | None:
    """parse_image for callers that only need to know whether a reference is usable.

    Remembered (ImageRef is frozen): a fleet's thousands of rows run a few dozen images, and
    every view of a row asks again.
    """
    try:
        return parse_image(ref)
    except InvalidImage:
        return None


def same_repository(a_image: str, b_image: str) -> bool:
    """True when both references name one repository; an invalid reference matches nothing."""
    a_ref, b_ref = try_parse_image(a_image), try_parse_image(b_image)
    return a_ref is not None and b_ref is not None and a_ref.repository == b_ref.repository


def same_image(a_image: str, b_image: str) -> bool:
    """True when both name one repository, tag and digest (``postgres`` = ``postgres:latest``)."""
    if a_image == b_image:
        return True
    a_ref, b_ref = try_parse_image(a_image), try_parse_image(b_image)
    if a_ref is None or b_ref is None:
        return False
    return (a_ref.repository, a_ref.effective_tag, a_ref.digest) == (
        b_ref.repository,
        b_ref.effective_tag,
        b_ref.digest,
    )


# --- tags -------------------------------------------------------------------------------------

_FLOATING_NAMES = frozenset({"latest", "main", "master", "stable", "edge", "nightly"})
# A bare major (``2``, ``v2``, ``17``), optionally with a variant (``17-alpine``), moves with
# every minor release of that major, so it floats as surely as ``latest`` does. Postgres's
# ``17`` is one of these: the audit must not read it as a pinned version.
_BARE_MAJOR = re.compile(r"(v?)(\d+)(?:-([a-z][a-z0-9.]*))?")
_DATE_RUN = re.compile(r"(\d{8})-(\d+)")
_VERSION_TIMESTAMP = re.compile(r"(v?)(\d+(?:\.\d+)*)_(\d{8})-(\d{4})")
_SEMVER = re.compile(r"(v?)(\d+(?:\.\d+)+)(?:-([0-9A-Za-z][0-9A-Za-z.-]*))?")
# Text after a version's '-' is either a pre-release (``-rc1``, ``-beta.1``) or a variant, a
# different build of the same release (``-alpine``, ``-s6``), as Renovate's docker versioning
# reads it (docs/registries.md). A pre-release may carry a variant after it: ``-rc1-alpine``.
_PRERELEASE = re.compile(
    r"((?:alpha|beta|rc|pre|preview|dev|snapshot|canary|nightly|next)(?:\.?\d+)*)(?:-(.+))?",
    re.IGNORECASE,
)


def is_named_floating_tag(tag: str | None) -> bool:
    """``latest``, ``main`` and the like: names that say they move. A bare major (``2``,
    ``17``) floats too, but a plain number is also how some projects number builds."""
    return tag is not None and tag.lower() in _FLOATING_NAMES


def is_floating_tag(tag: str | None) -> bool:
    """True for tags that move: ``latest``/``main``/..., no tag (implicit latest), a bare major.

    A purely numeric single component (``2``, ``17``) counts as a bare major, so ``postgres:17``
    floats; ``17-alpine`` floats the same way.
    """
    if tag is None:
        return True
    return tag.lower() in _FLOATING_NAMES or bool(_BARE_MAJOR.fullmatch(tag))


class TagScheme(StrEnum):
    SEMVER = "semver"  # 1.775.2, v2.36.1-s6, 0.4.0
    DATE_RUN = "date-run"  # 20260731-948 (Explorer, landing page CI)
    VERSION_TIMESTAMP = "version-timestamp"  # 6.1.0_20260803-1652 (Superset wrapper)
    FLOATING = "floating"  # latest, main, v2, 17
    OTHER = "other"


def tag_scheme(tag: str | None) -> TagScheme:
    """The one place that decides which scheme a tag follows."""
    if is_floating_tag(tag):
        return TagScheme.FLOATING
    assert tag is not None  # is_floating_tag(None) is True
    if _DATE_RUN.fullmatch(tag):
        return TagScheme.DATE_RUN
    if _VERSION_TIMESTAMP.fullmatch(tag):
        return TagScheme.VERSION_TIMESTAMP
    if _SEMVER.fullmatch(tag):
        return TagScheme.SEMVER
    return TagScheme.OTHER


@dataclass(frozen=True)
class TagParts:
    """A tag taken apart: what orders it, and what two tags must share to be compared."""

    scheme: TagScheme
    prefix: str  # "v" or ""
    key: tuple[tuple[int, ...], ...]  # compared part by part, numbers as numbers
    variant: str = ""  # "alpine" in 17.6-alpine, "s6" in v2.36.1-s6
    prerelease: str = ""  # "rc1" in 1.0.0-rc1; "" for a release

    @property
    def precision(self) -> int:
        """How many numbers the version has: ``17.6`` and ``17.6.1`` are different lines."""
        return len(self.key[0])


@lru_cache(maxsize=1 << 16)
def tag_parts(tag: str | None) -> TagParts | None:
    """The parts of a semver, date-run or version+timestamp tag, or of a bare major (``v2``).

    None for named channels (``latest``, ``main``), no tag, and tags of no known scheme.
    Cached: choosing the newest of a repository takes every tag apart several times, and a
    repository can list thousands.
    """
    scheme = tag_scheme(tag)
    if tag is None or scheme is TagScheme.OTHER:
        return None
    if scheme is TagScheme.FLOATING:
        major = _BARE_MAJOR.fullmatch(tag)
        if major is None:
            return None
        return TagParts(scheme, major[1], ((int(major[2]),),), major[3] or "")
    if scheme is TagScheme.DATE_RUN:
        match = _DATE_RUN.fullmatch(tag)
        assert match is not None
        return TagParts(scheme, "", ((int(match[1]), int(match[2])),))
    if scheme is TagScheme.VERSION_TIMESTAMP:
        match = _VERSION_TIMESTAMP.fullmatch(tag)
        assert match is not None
        return TagParts(scheme, match[1], (_numbers(match[2]), (int(match[3]), int(match[4]))))
    match = _SEMVER.fullmatch(tag)
    assert match is not None
    suffix = match[3] or ""
    prerelease = _PRERELEASE.fullmatch(suffix)
    if prerelease is None:
        return TagParts(scheme, match[1], (_numbers(match[2]),), variant=suffix)
    return TagParts(
        scheme, match[1], (_numbers(match[2]),), variant=prerelease[2] or "",
        prerelease=prerelease[1],
    )


def _numbers(dotted: str) -> tuple[int, ...]:
    return tuple(int(part) for part in dotted.split("."))


def cmp_numbers(a: tuple[int, ...], b: tuple[int, ...]) -> int:
    """Negative, zero or positive; 6.1 and 6.1.0 name the same release (zeros pad the shorter)."""
    width = max(len(a), len(b))
    a_padded = a + (0,) * (width - len(a))
    b_padded = b + (0,) * (width - len(b))
    return (a_padded > b_padded) - (a_padded < b_padded)


def compare_tags(a: str, b: str) -> int | None:
    """Negative, zero or positive as tag ``a`` is older, equal or newer than ``b``.

    None when the two cannot be ordered: different schemes, a floating or unknown scheme, or
    semver tags whose suffixes differ (``1.2.0`` vs ``1.2.0-alpine`` are different builds, and
    ``-rc1`` against nothing is a pre-release question we do not guess at).
    """
    if a == b:
        return 0
    a_parts, b_parts = tag_parts(a), tag_parts(b)
    if a_parts is None or b_parts is None or a_parts.scheme is TagScheme.FLOATING:
        return None
    if (a_parts.scheme, a_parts.variant, a_parts.prerelease) != (
        b_parts.scheme,
        b_parts.variant,
        b_parts.prerelease,
    ):
        return None
    for a_part, b_part in zip(a_parts.key, b_parts.key, strict=True):
        order = cmp_numbers(a_part, b_part)
        if order:
            return order
    return 0
