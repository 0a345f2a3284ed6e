"""Read a KDBX file's outer header (version and KDF settings) without running the KDF.

The header is only authenticated after the KDF has run, so an attacker who can edit the
file can ask for hours of work or a terabyte of memory. Reading it first lets the caller
refuse such a file in milliseconds.

This deliberately reuses pykeepass's own construct definition of the header (internal API,
pinned in pyproject.toml): the values checked here are then exactly the values pykeepass
will use, including its handling of repeated fields, which a separate parser could read
differently.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from construct import ConstructError  # type: ignore[import-untyped]
from pykeepass.kdbx_parsing.kdbx import KDBX  # type: ignore[import-untyped]
from pykeepass.kdbx_parsing.kdbx4 import (  # type: ignore[import-untyped]
    kdf_uuids as _kdf_uuids_4,
)

SUPPORTED_VERSIONS: frozenset[tuple[int, int]] = frozenset({(3, 1), (4, 0), (4, 1)})

_SIGNATURE = b"\x03\xd9\xa2\x9a\x67\xfb\x4b\xb5"
_AES_KDF_UUID = _kdf_uuids_4["aeskdf"]
_ARGON2D_UUID = _kdf_uuids_4["argon2"]
_ARGON2ID_UUID = _kdf_uuids_4["argon2id"]

# Argon2 versions 1.0 and 1.3, the only ones libargon2 (and the KDBX spec) know.
_ARGON2_VERSIONS = frozenset({0x10, 0x13})


class KdbxHeaderError(Exception):
    """The header cannot be used; the message is one readable line without file contents."""


@dataclass(frozen=True)
class KdbxHeader:
    """What the pre-check needs from the outer header."""

    version: tuple[int, int]
    kdf: str  # "aes-kdf", "argon2d" or "argon2id"
    seed: bytes = b""  # AES-KDF seed or Argon2 salt
    rounds: int | None = None  # AES-KDF
    memory: int | None = None  # Argon2, bytes
    iterations: int | None = None  # Argon2
    parallelism: int | None = None  # Argon2
    argon2_version: int | None = None


def _field(container: Any, name: str) -> Any:
    """A dynamic-header field's data, or a readable error when the file lacks it."""
    item = container.get(name)
    if item is None:
        raise KdbxHeaderError(f"the header has no {name.replace('_', ' ')}")
    return item.data


def _variant(params: dict[str, Any], key: str, expected: type) -> Any:
    item = params.get(key)
    if item is None:
        raise KdbxHeaderError(f"the KDF parameters have no '{key}' value")
    value = item.value
    # construct decodes by the type byte the file chose; bool is an int subclass, refuse it.
    if not isinstance(value, expected) or isinstance(value, bool):
        raise KdbxHeaderError(f"the KDF parameter '{key}' has the wrong type")
    return value


def parse_header(data: bytes) -> KdbxHeader:
    """The version and KDF settings of a KDBX file; raises KdbxHeaderError."""
    if len(data) < 12 or data[:8] != _SIGNATURE:
        if data[:4] == _SIGNATURE[:4] and data[4:8] == b"\x65\xfb\x4b\xb5":
            raise KdbxHeaderError("it is a KeePass 1.x (.kdb) file, which is not supported")
        if not data:
            raise KdbxHeaderError("the file is empty")
        raise KdbxHeaderError("it is not a KeePass database")
    minor = int.from_bytes(data[8:10], "little")
    major = int.from_bytes(data[10:12], "little")
    if (major, minor) not in SUPPORTED_VERSIONS:
        raise KdbxHeaderError(
            f"KDBX version {major}.{minor} is not supported (only 3.1, 4.0 and 4.1 are)"
        )
    try:
        header = KDBX.subcons[0].parse(data).value
    except ConstructError:
        raise KdbxHeaderError("the header is damaged or the file is truncated") from None
    dynamic = header.dynamic_header
    if major == 3:
        seed = _field(dynamic, "transform_seed")
        rounds = _field(dynamic, "transform_rounds")
        return _aes_header((major, minor), seed, rounds)

    kdf_parameters = _field(dynamic, "kdf_parameters")
    params = dict(kdf_parameters.dict)
    uuid = _variant(params, "$UUID", bytes)
    if uuid == _AES_KDF_UUID:
        return _aes_header((major, minor), _variant(params, "S", bytes), _variant(params, "R", int))
    if uuid in (_ARGON2D_UUID, _ARGON2ID_UUID):
        memory = _variant(params, "M", int)
        iterations = _variant(params, "I", int)
        parallelism = _variant(params, "P", int)
        argon2_version = _variant(params, "V", int)
        salt = _variant(params, "S", bytes)
        # Values libargon2 rejects anyway, refused here with a clearer message.
        if iterations < 1:
            raise KdbxHeaderError("the Argon2 iteration count is 0")
        if not 1 <= parallelism <= 0xFFFFFF:
            raise KdbxHeaderError(f"the Argon2 parallelism {parallelism} is out of range")
        if memory < 8 * 1024 * parallelism:
            raise KdbxHeaderError("the Argon2 memory is below its minimum (8 KiB per lane)")
        if argon2_version not in _ARGON2_VERSIONS:
            raise KdbxHeaderError(f"Argon2 version {argon2_version:#x} is not supported")
        return KdbxHeader(
            version=(major, minor),
            kdf="argon2id" if uuid == _ARGON2ID_UUID else "argon2d",
            seed=salt,
            memory=memory,
            iterations=iterations,
            parallelism=parallelism,
            argon2_version=argon2_version,
        )
    raise KdbxHeaderError("it uses an unknown key derivation function")


def _aes_header(version: tuple[int, int], seed: Any, rounds: Any) -> KdbxHeader:
    if not isinstance(seed, bytes) or len(seed) != 32:
        raise KdbxHeaderError("the AES-KDF seed is not 32 bytes")
    if not isinstance(rounds, int) or isinstance(rounds, bool) or rounds < 0:
        raise KdbxHeaderError("the AES-KDF round count is invalid")
    return KdbxHeader(version=version, kdf="aes-kdf", seed=seed, rounds=rounds)
