"""The KeePass file -> the CapRover instances it holds.

Reading is blocking and CPU-bound (the key derivation): callers run it in a thread.

The order of work is the hardening: read the file once (size-capped, never written), check
the KDF settings in the header before paying for them, derive the key ourselves (AES-KDF in
C, Argon2 via argon2-cffi) so the KDF runs with exactly the checked values, let pykeepass
decrypt from the in-memory bytes, copy the fields out into plain dataclasses and drop the
pykeepass object. Every failure becomes one readable :class:`VaultError` line that never
contains a secret; entries are filtered in Python, never through pykeepass's XPath search,
because its queries are built by string formatting.
"""

from __future__ import annotations

import base64
import binascii
import io
import ipaddress
import os
import re
import stat
import struct
import uuid as uuid_module
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from gc_tui.core import aeskdf
from gc_tui.core.kdbx_header import KdbxHeader, KdbxHeaderError, parse_header
from gc_tui.core.model import Instance, TotpSpec
from gc_tui.core.secret import Secret
from gc_tui.core.text import printable

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
# A key file can be any file (it is then hashed), but nobody uses a big one.
MAX_KEYFILE_BYTES = 16 * 1024 * 1024
MAX_ARGON2_MEMORY = 1024 * 1024 * 1024
MAX_UNLOCK_SECONDS = 30.0
# Argon2 costs about 0.4-0.9 ms per MiB and iteration here (libargon2, any lane count);
# the estimate rounds up so a slow machine is not surprised.
_ARGON2_SECONDS_PER_MIB_ITERATION = 0.001
_REF_DEPTH = 10


class VaultError(Exception):
    """Opening or reading the vault failed; ``str(err)`` is one readable line, no secret."""


class VaultFileError(VaultError):
    """The file cannot be read: missing, a directory, no permission, too large."""


class VaultFormatError(VaultError):
    """Not a KeePass file, damaged, truncated, or a version or KDF we do not support."""


class VaultCredentialsError(VaultError):
    """Wrong password or key file, or an unusable key file: the operator should retry."""


class VaultSelectionError(VaultError):
    """The entries could not be turned into instances (duplicates, bad URLs, none found)."""


class SlowVaultError(VaultError):
    """The KDF settings would take too long or too much memory; see ``info``."""

    def __init__(self, message: str, info: KdfInfo, *, can_override: bool = True) -> None:
        super().__init__(message)
        self.info = info
        # False when even allow_slow cannot help (more memory than the machine has).
        self.can_override = can_override


@dataclass(frozen=True)
class KdfInfo:
    """The key-derivation settings of a vault, read from its header before unlocking."""

    version: tuple[int, int]
    kdf: str  # "aes-kdf", "argon2d" or "argon2id"
    rounds: int | None = None
    memory: int | None = None  # bytes
    iterations: int | None = None
    parallelism: int | None = None
    estimated_seconds: float = 0.0

    def describe(self, *, estimate: bool = True) -> str:
        """E.g. "KDBX 4.0, Argon2d 64 MiB x 14, 2 lanes, ~0.9 s"."""
        head = f"KDBX {self.version[0]}.{self.version[1]}"
        if self.kdf == "aes-kdf":
            body = f"AES-KDF {self.rounds:,} rounds"
        else:
            name = "Argon2id" if self.kdf == "argon2id" else "Argon2d"
            body = (
                f"{name} {_format_bytes(self.memory or 0)} x {self.iterations:,}, "
                f"{self.parallelism} lane{'s' if self.parallelism != 1 else ''}"
            )
        if not estimate:
            return f"{head}, {body}"
        return f"{head}, {body}, ~{format_duration(self.estimated_seconds)}"

    def limit_problem(self) -> str | None:
        """Why opening needs ``allow_slow`` (memory or time over the limits), or None."""
        if self.memory is not None and self.memory > MAX_ARGON2_MEMORY:
            return (
                f"its Argon2 settings need {_format_bytes(self.memory)} of memory "
                f"(limit {_format_bytes(MAX_ARGON2_MEMORY)}) and about "
                f"{format_duration(self.estimated_seconds)} to unlock"
            )
        if self.estimated_seconds > MAX_UNLOCK_SECONDS:
            return (
                f"unlocking would take about {format_duration(self.estimated_seconds)} "
                f"({self.describe(estimate=False)}; limit {format_duration(MAX_UNLOCK_SECONDS)})"
            )
        return None


@dataclass(frozen=True)
class VaultEntry:
    """One entry's fields, copied out of the decrypted tree, references already resolved."""

    title: str | None
    url: str | None
    password: Secret | None = field(repr=False)
    username: str | None
    tags: tuple[str, ...]
    group_path: tuple[str, ...]  # group names below the root group
    uuid: str
    expired: bool
    totp: TotpSpec | None = field(repr=False)
    # Problems found while reading the entry (unresolved reference, unusable TOTP field).
    issues: tuple[str, ...] = ()

    @property
    def path(self) -> str:
        return "/".join((*self.group_path, self.title or "(untitled)"))


# ---------------------------------------------------------------------------- formatting


def format_duration(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.0f} h"
    if seconds < 2 * 365 * 86400:
        return f"{seconds / 86400:,.0f} days"
    return f"{seconds / (365 * 86400):,.0f} years"


def _format_bytes(size: int) -> str:
    for unit, scale in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            value = size / scale
            return (
                f"{value:,.0f} {unit}" if value >= 10 else f"{value:.1f} {unit}".replace(".0 ", " ")
            )
    return f"{size} bytes"


def _label(path: Path) -> str:
    # The path goes into messages that end up on a terminal: one line, no escape codes.
    return printable(str(path), 200)


# ---------------------------------------------------------------------------- pre-check


def _kdf_info(header: KdbxHeader) -> KdfInfo:
    if header.kdf == "aes-kdf":
        rounds = header.rounds or 0
        return KdfInfo(
            version=header.version,
            kdf="aes-kdf",
            rounds=rounds,
            estimated_seconds=aeskdf.estimate_seconds(rounds),
        )
    memory = header.memory or 0
    iterations = header.iterations or 0
    return KdfInfo(
        version=header.version,
        kdf=header.kdf,
        memory=memory,
        iterations=iterations,
        parallelism=header.parallelism,
        estimated_seconds=memory / (1 << 20) * iterations * _ARGON2_SECONDS_PER_MIB_ITERATION,
    )


def _parse_header(data: bytes, label: str) -> KdbxHeader:
    try:
        return parse_header(data)
    except KdbxHeaderError as err:
        raise VaultFormatError(f"{label}: {err}") from None


def kdf_precheck(data: bytes) -> KdfInfo:
    """The vault's KDF settings and estimated unlock time, without running the KDF."""
    return _kdf_info(_parse_header(data, "vault"))


def _physical_memory() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _check_limits(info: KdfInfo, label: str, allow_slow: bool) -> None:
    ram = _physical_memory()
    if info.memory is not None and ram is not None and info.memory > ram:
        raise SlowVaultError(
            f"{label}: refused: its Argon2 settings need {_format_bytes(info.memory)} "
            f"of memory, more than this machine has ({_format_bytes(ram)})",
            info,
            can_override=False,
        )
    problem = info.limit_problem()
    if problem is not None and not allow_slow:
        # How to override (a flag, a button) is the caller's to say; see can_override.
        raise SlowVaultError(f"{label}: refused: {problem}", info)


# ---------------------------------------------------------------------------- reading


def _read_capped(path: Path, limit: int, what: str) -> bytes:
    """The whole file, read once; refuses non-regular files (a FIFO would block forever)."""
    label = _label(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise VaultFileError(f"{what} {label} not found") from None
    except IsADirectoryError:
        raise VaultFileError(f"{what} {label} is a directory") from None
    except PermissionError:
        raise VaultFileError(f"no permission to read {what} {label}") from None
    except OSError as err:
        raise VaultFileError(f"cannot read {what} {label}: {err.strerror or 'I/O error'}") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise VaultFileError(f"{what} {label} is a directory")
        if not stat.S_ISREG(info.st_mode):
            raise VaultFileError(f"{what} {label} is not a regular file")
        if info.st_size > limit:
            raise VaultFileError(
                f"{what} {label} is {_format_bytes(info.st_size)}, over the "
                f"{_format_bytes(limit)} limit"
            )
        chunks: list[bytes] = []
        total = 0
        # Read one byte past the limit: a file growing after fstat is still caught.
        while total <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except OSError as err:
        raise VaultFileError(f"cannot read {what} {label}: {err.strerror or 'I/O error'}") from None
    finally:
        os.close(fd)
    if total > limit:
        raise VaultFileError(f"{what} {label} is over the {_format_bytes(limit)} limit")
    return b"".join(chunks)


def _composite_key(
    password: Secret | None, keyfile_data: bytes | None, keyfile_label: str
) -> bytes:
    """KeePass's composite key; keyfile errors are credential errors (pick another file)."""
    from pykeepass.kdbx_parsing.common import (  # type: ignore[import-untyped]
        compute_key_composite,
    )

    problem: VaultError | None = None
    try:
        return bytes(
            compute_key_composite(
                password=password.reveal() if password is not None else None,
                keyfile=io.BytesIO(keyfile_data) if keyfile_data is not None else None,
            )
        )
    except AssertionError:
        # pykeepass's check of a v2.0 (.keyx) key file's embedded hash.
        problem = VaultCredentialsError(
            f"key file {keyfile_label} is damaged: its hash check failed"
        )
    except Exception:  # noqa: BLE001 - any parse failure means "not a usable key file"
        problem = VaultCredentialsError(f"key file {keyfile_label} could not be read as a key file")
    raise problem


def _transformed_key(header: KdbxHeader, composite: bytes) -> bytes:
    if header.kdf == "aes-kdf":
        return aeskdf.aes_kdf(header.seed, header.rounds or 0, composite)
    import argon2.low_level

    return bytes(
        argon2.low_level.hash_secret_raw(
            secret=composite,
            salt=header.seed,
            hash_len=32,
            type=argon2.low_level.Type.ID if header.kdf == "argon2id" else argon2.low_level.Type.D,
            time_cost=header.iterations or 0,
            # The header gives bytes; libargon2 takes KiB (pykeepass does the same division).
            memory_cost=(header.memory or 0) // 1024,
            parallelism=header.parallelism or 0,
            version=header.argon2_version or 0x13,
        )
    )


def _map_open_error(exc: BaseException, label: str) -> VaultError:
    """One readable line per failure pykeepass and its dependencies are known to raise."""
    import argon2.exceptions
    from construct import ConstructError  # type: ignore[import-untyped]
    from lxml import etree  # type: ignore[import-untyped]
    from pykeepass.exceptions import (  # type: ignore[import-untyped]
        CredentialsError,
        HeaderChecksumError,
        PayloadChecksumError,
    )

    if isinstance(exc, CredentialsError):
        return VaultCredentialsError(f"{label}: wrong password or key file")
    if isinstance(exc, HeaderChecksumError):
        if "Not a KeePass" in str(exc):
            return VaultFormatError(f"{label}: it is not a KeePass database")
        return VaultFormatError(f"{label}: the header is damaged (checksum mismatch)")
    if isinstance(exc, PayloadChecksumError):
        return VaultFormatError(f"{label}: the contents are damaged (checksum mismatch)")
    if isinstance(exc, ConstructError):
        return VaultFormatError(f"{label}: the file is damaged or truncated")
    if isinstance(exc, etree.LxmlError):
        return VaultFormatError(f"{label}: the decrypted contents are not valid KeePass XML")
    if isinstance(exc, zlib.error):
        return VaultFormatError(f"{label}: the compressed contents are damaged")
    if isinstance(exc, argon2.exceptions.HashingError):
        # libargon2's messages are fixed strings such as "Memory allocation error".
        return VaultFormatError(f"{label}: its Argon2 settings cannot be used ({exc})")
    if isinstance(exc, MemoryError):
        return VaultError(f"{label}: not enough memory to open it")
    # Unknown failures: the type name only, the text could carry file contents.
    return VaultFormatError(f"{label}: it could not be opened ({type(exc).__name__})")


def _unlock(
    data: bytes,
    header: KdbxHeader,
    password: Secret | None,
    keyfile: Path | None,
    label: str,
) -> list[VaultEntry] | VaultError:
    """Entries, or the error to raise, stripped of its traceback.

    Returning the error (instead of raising it through here) keeps the frames that hold
    the key file's bytes, the composite and the transformed key (each as good as the
    password for this file) out of any traceback a crash screen could print with its
    locals, and leaves no ``__context__`` chain into pykeepass frames holding them too.
    """
    from pykeepass import PyKeePass  # type: ignore[import-untyped]

    failure: VaultError | None = None
    try:
        keyfile_data = (
            _read_capped(keyfile, MAX_KEYFILE_BYTES, "key file") if keyfile is not None else None
        )
        composite = _composite_key(
            password, keyfile_data, _label(keyfile) if keyfile is not None else ""
        )
        transformed = _transformed_key(header, composite)
        kp = PyKeePass(io.BytesIO(data), transformed_key=transformed)
        entries = _extract_entries(kp.tree.getroot(), header.version)
        del kp, transformed, composite, keyfile_data
    except VaultError as err:
        failure = err.with_traceback(None)
    except Exception as exc:  # noqa: BLE001 - mapped to one line; nothing of exc escapes
        failure = _map_open_error(exc, label)
    if failure is not None:
        return failure
    return entries


def read_vault(
    path: Path,
    password: Secret | None,
    keyfile: Path | None = None,
    *,
    allow_slow: bool = False,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> list[VaultEntry]:
    """Every entry of the vault outside the Recycle Bin (no history), fields resolved.

    Blocking and CPU-bound. Raises :class:`VaultError` subclasses only.
    """
    label = _label(path)
    if password is None and keyfile is None:
        raise VaultCredentialsError(f"{label}: a password or a key file is needed")
    data = _read_capped(path, max_bytes, "vault")
    header = _parse_header(data, label)
    _check_limits(_kdf_info(header), label, allow_slow)
    result = _unlock(data, header, password, keyfile, label)
    if isinstance(result, VaultError):
        raise result
    return result


# ---------------------------------------------------------------------------- extraction


@dataclass
class _RawEntry:
    fields: dict[str, str]
    tags: tuple[str, ...]
    group_path: tuple[str, ...]
    uuid: str
    expired: bool
    in_recycle_bin: bool


_EPOCH = datetime(1, 1, 1, tzinfo=UTC)


def _decode_time(text: str | None, version: tuple[int, int]) -> datetime | None:
    if not text:
        return None
    try:
        if version >= (4, 0):
            raw = base64.b64decode(text, validate=True)
            if len(raw) == 8:
                return _EPOCH + timedelta(seconds=struct.unpack("<q", raw)[0])
        parsed = datetime.fromisoformat(text)
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed
    except (ValueError, binascii.Error, OverflowError):
        return None


def _uuid_text(text: str | None) -> str:
    try:
        return str(uuid_module.UUID(bytes=base64.b64decode(text or "", validate=True)))
    except (ValueError, binascii.Error):
        return ""


def _split_tags(text: str | None) -> tuple[str, ...]:
    if not text:
        return ()
    return tuple(tag.strip() for tag in re.split(r"[,;]", text) if tag.strip())


def _walk(
    group: Any, path: tuple[str, ...], recycle_uuid: str, in_bin: bool, version: tuple[int, int]
) -> Iterator[_RawEntry]:
    now = datetime.now(UTC)
    for entry in group.findall("Entry"):  # direct children only: History is nested deeper
        fields: dict[str, str] = {}
        for string in entry.findall("String"):
            key = string.findtext("Key")
            if key is not None:
                fields[key] = string.findtext("Value") or ""
        times = entry.find("Times")
        expired = False
        if times is not None and (times.findtext("Expires") or "").strip().lower() == "true":
            expiry = _decode_time(times.findtext("ExpiryTime"), version)
            expired = expiry is not None and expiry < now
        yield _RawEntry(
            fields=fields,
            tags=_split_tags(entry.findtext("Tags")),
            group_path=path,
            uuid=_uuid_text(entry.findtext("UUID")),
            expired=expired,
            in_recycle_bin=in_bin,
        )
    for child in group.findall("Group"):
        child_uuid = _uuid_text(child.findtext("UUID"))
        name = child.findtext("Name") or ""
        yield from _walk(
            child,
            (*path, name),
            recycle_uuid,
            in_bin or (bool(recycle_uuid) and child_uuid == recycle_uuid),
            version,
        )


_REF = re.compile(r"\{REF:([TUPANI])@([TUPANI]):([^}]*)\}", re.IGNORECASE)
_REF_FIELDS = {"T": "Title", "U": "UserName", "P": "Password", "A": "URL", "N": "Notes"}


class _Resolver:
    """KeePass field references ({REF:P@I:<uuid>}), resolved in Python, never via XPath."""

    def __init__(self, raws: Sequence[_RawEntry]) -> None:
        self._raws = raws
        self._by_uuid = {raw.uuid.replace("-", ""): raw for raw in raws if raw.uuid}

    def _find(self, search_in: str, value: str) -> _RawEntry | None:
        if search_in == "I":
            return self._by_uuid.get(value.strip().replace("-", "").lower())
        key = _REF_FIELDS[search_in]
        # KeePass searches case-insensitively for the text inside the field.
        needle = value.casefold()
        for raw in self._raws:
            if needle in raw.fields.get(key, "").casefold():
                return raw
        return None

    def resolve(self, value: str, depth: int = 0) -> str | None:
        """The value with every reference replaced, or None if one cannot be resolved."""
        if "{REF:" not in value.upper():
            return value
        if depth >= _REF_DEPTH:
            return None
        unresolved = False

        def replace(match: re.Match[str]) -> str:
            nonlocal unresolved
            wanted, search_in, text = (
                match.group(1).upper(),
                match.group(2).upper(),
                match.group(3),
            )
            target = self._find(search_in, text)
            if target is None:
                unresolved = True
                return ""
            if wanted == "I":
                return target.uuid.replace("-", "").upper()
            return target.fields.get(_REF_FIELDS[wanted], "")

        replaced = _REF.sub(replace, value)
        if unresolved:
            return None
        return self.resolve(replaced, depth + 1)

    def field(self, raw: _RawEntry, issues: list[str], key: str, what: str) -> str | None:
        """A field of ``raw`` with references resolved; None (and an issue) if unresolvable."""
        value = raw.fields.get(key)
        if not value:
            return None
        resolved = self.resolve(value)
        if resolved is None:
            issues.append(f"its {what} field refers to an entry that does not exist")
        return resolved or None


def _totp_from_fields(fields: dict[str, str]) -> tuple[TotpSpec | None, str | None]:
    """The entry's TOTP settings from any of the layouts KeePass clients use, or a problem."""
    from gc_tui.core.totp import decode_base32_secret, parse_otpauth_uri

    otp = fields.get("otp", "").strip()
    if otp:
        try:
            secret, digits, period, algorithm = parse_otpauth_uri(otp)
        except ValueError as err:
            return None, f"the otp field is unusable: {err}"
        return TotpSpec(Secret(secret), digits=digits, period=period, algorithm=algorithm), None

    raw_secret: bytes | None = None
    try:
        if fields.get("TimeOtp-Secret-Base32", "").strip():
            raw_secret = decode_base32_secret(fields["TimeOtp-Secret-Base32"])
        elif fields.get("TimeOtp-Secret-Hex", "").strip():
            raw_secret = bytes.fromhex("".join(fields["TimeOtp-Secret-Hex"].split()))
        elif fields.get("TimeOtp-Secret-Base64", "").strip():
            raw_secret = base64.b64decode(fields["TimeOtp-Secret-Base64"].strip(), validate=True)
        elif fields.get("TimeOtp-Secret", ""):
            raw_secret = fields["TimeOtp-Secret"].encode("utf-8")
    except (ValueError, binascii.Error):
        # No detail: a decoder's message could echo part of the seed.
        return None, "the TimeOtp-Secret field is not valid"
    if raw_secret is not None:
        try:
            digits = int(fields.get("TimeOtp-Length", "").strip() or 6)
            period = int(fields.get("TimeOtp-Period", "").strip() or 30)
        except ValueError:
            return None, "TimeOtp-Length or TimeOtp-Period is not a number"
        # KeePass writes "HMAC-SHA-256"; totp.py wants SHA256.
        algorithm = (
            fields.get("TimeOtp-Algorithm", "")
            .strip()
            .upper()
            .removeprefix("HMAC-")
            .replace("-", "")
            or "SHA1"
        )
        if algorithm not in ("SHA1", "SHA256", "SHA512"):
            return None, "TimeOtp-Algorithm is not HMAC-SHA-1, -256 or -512"
        if not 6 <= digits <= 10 or period <= 0:
            return None, "TimeOtp-Length or TimeOtp-Period is out of range"
        if not raw_secret:
            return None, "the TimeOtp-Secret field is empty"
        secret = base64.b32encode(raw_secret).decode("ascii").rstrip("=")
        return TotpSpec(Secret(secret), digits=digits, period=period, algorithm=algorithm), None

    # Older KeePassXC / KeeOtp layout: "TOTP Seed" plus "TOTP Settings" = "30;6".
    seed = fields.get("TOTP Seed", "").strip()
    if seed:
        settings = fields.get("TOTP Settings", "30;6").strip() or "30;6"
        try:
            period_text, digits_text = (settings.split(";") + ["6"])[:2]
            period, digits = int(period_text), int(digits_text)
            decode_base32_secret(seed)
        except ValueError:
            return None, "the TOTP Seed / TOTP Settings fields are unusable"
        if not 6 <= digits <= 10 or period <= 0:
            return None, "the TOTP Settings field is out of range"
        return TotpSpec(Secret("".join(seed.split()).upper()), digits=digits, period=period), None
    return None, None


def _extract_entries(root: Any, version: tuple[int, int]) -> list[VaultEntry]:
    meta_bin = root.findtext("Meta/RecycleBinUUID")
    recycle_uuid = _uuid_text(meta_bin)
    if recycle_uuid == str(uuid_module.UUID(int=0)):
        recycle_uuid = ""
    top = root.find("Root/Group")
    if top is None:
        raise VaultFormatError("the vault has no root group")
    raws = list(_walk(top, (), recycle_uuid, False, version))
    resolver = _Resolver(raws)
    entries: list[VaultEntry] = []
    for raw in raws:
        if raw.in_recycle_bin:
            continue
        issues: list[str] = []

        title = resolver.field(raw, issues, "Title", "title")
        url = resolver.field(raw, issues, "URL", "URL")
        password = resolver.field(raw, issues, "Password", "password")
        username = resolver.field(raw, issues, "UserName", "user name")
        resolved_fields = dict(raw.fields)
        for key in ("otp", "TimeOtp-Secret-Base32", "TimeOtp-Secret", "TOTP Seed"):
            if raw.fields.get(key):
                resolved_fields[key] = resolver.field(raw, issues, key, key) or ""
        totp, totp_problem = _totp_from_fields(resolved_fields)
        if totp_problem:
            issues.append(totp_problem)
        entries.append(
            VaultEntry(
                title=title,
                url=url,
                password=Secret(password) if password else None,
                username=username,
                tags=raw.tags,
                group_path=raw.group_path,
                uuid=raw.uuid,
                expired=raw.expired,
                totp=totp,
                issues=tuple(issues),
            )
        )
    return entries


# ---------------------------------------------------------------------------- URLs

_HOST_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?$")
_DEFAULT_PORTS = {"https": 443, "http": 80}


@dataclass(frozen=True)
class _Origin:
    url: str
    host: str
    notes: tuple[str, ...]


def _origin(raw: str) -> _Origin:
    text = raw.strip()
    if not text:
        raise ValueError("the URL is empty")
    if any(ch.isspace() or ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 for ch in text):
        raise ValueError("the URL contains spaces or control characters")
    notes: list[str] = []
    if "://" not in text:
        text = "https:" + text if text.startswith("//") else "https://" + text
        notes.append("the URL has no scheme: https:// assumed")
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise ValueError(f"the scheme {printable(scheme, 20)!r} is not http or https")
    if "@" in parts.netloc:
        # Never echo it: the part before @ may be a password.
        raise ValueError("the URL contains a user name or password (user@host); remove it")
    hostname = parts.hostname or ""
    if not hostname:
        raise ValueError("the URL has no host")
    try:
        port = parts.port
    except ValueError:
        raise ValueError("the port is not a number between 1 and 65535") from None
    if port == 0:
        raise ValueError("the port is not a number between 1 and 65535")
    if ":" in hostname:
        try:
            address = ipaddress.IPv6Address(hostname)
        except ValueError:
            raise ValueError("the host is not a valid IPv6 address") from None
        host = f"[{address.compressed}]"
    else:
        hostname = hostname.rstrip(".")
        if not hostname.isascii():
            try:
                ascii_host = hostname.encode("idna").decode("ascii")
            except UnicodeError:
                raise ValueError("the host name is not a valid internationalised name") from None
            notes.append(f"internationalised host name: connecting to {ascii_host}")
            hostname = ascii_host
        if not all(_HOST_LABEL.match(label) for label in hostname.split(".")):
            raise ValueError("the host name contains characters a host name cannot have")
        host = hostname
    dropped = []
    if parts.path not in ("", "/"):
        dropped.append(f"path {printable(parts.path, 40)}")
    if parts.query:
        dropped.append("query")  # not shown: it may hold a token
    if parts.fragment not in ("", "/"):
        dropped.append("fragment")
    if dropped:
        notes.append(f"{' and '.join(dropped)} dropped from the URL")
    if scheme == "http" and not _is_loopback(host):
        notes.append("http:// is not encrypted: the password would cross the network in clear")
    origin = f"{scheme}://{host}"
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        origin += f":{port}"
    return _Origin(origin, host, tuple(notes))


def _is_loopback(host: str) -> bool:
    """Plain HTTP to this machine never crosses a network (an SSH tunnel, the demo)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def normalise_url(raw: str) -> str:
    """``scheme://host[:port]`` from an entry's URL; ValueError with the reason otherwise.

    A missing scheme means https; path, query and fragment are dropped; http:// is kept
    (the caller decides whether to allow it); user info (``user:pw@``) is refused.
    """
    return _origin(raw).url


def _host_guess(raw: str) -> str:
    """Best-effort host of a URL, for the default ``captain.`` selection only."""
    text = raw.strip()
    if "://" not in text:
        text = "https://" + text
    try:
        return (urlsplit(text).hostname or "").lower()
    except ValueError:
        return ""


# ---------------------------------------------------------------------------- selection


def _group_parts(group: str) -> tuple[str, ...]:
    parts = tuple(part.strip() for part in group.strip().strip("/").split("/"))
    if not parts or any(not part for part in parts):
        raise VaultSelectionError(
            f"group path {printable(group, 80)!r} is empty or has an empty part"
        )
    return parts


def _describe_search(group: str | None, tag: str | None) -> str:
    what = []
    if group is not None:
        what.append(f"in group {printable(group, 80)!r} (and its subgroups)")
    if tag is not None:
        what.append(f"tagged {printable(tag, 40)!r}")
    if not what:
        what.append("whose URL host starts with 'captain.'")
    return "no entry with a URL " + " and ".join(what) + " (Recycle Bin excluded)"


def _group_hint(entries: Sequence[VaultEntry], parts: tuple[str, ...]) -> str:
    paths = {entry.group_path for entry in entries}
    wanted = tuple(part.casefold() for part in parts)
    for path in sorted(paths):
        if tuple(p.casefold() for p in path[: len(parts)]) == wanted:
            return f"; did you mean {printable('/'.join(path[: len(parts)]), 80)!r}?"
    top = sorted({path[0] for path in paths if path})
    if not top:
        return ""
    shown = ", ".join(printable(name, 40) for name in top[:10])
    return f"; top-level groups: {shown}" + (", ..." if len(top) > 10 else "")


def select_instances(
    entries: Sequence[VaultEntry], *, group: str | None = None, tag: str | None = None
) -> list[Instance]:
    """The instances among ``entries``, in vault order.

    ``group`` (slash path, recursive) and ``tag`` select together when both are given;
    neither selects the entries whose URL host starts with ``captain.``. Entries without a
    URL are skipped (folders hold notes too). Any selected entry that cannot become an
    instance (no title, duplicate title, unusable URL) fails the whole selection with one
    VaultSelectionError naming every such entry: silently auditing fewer servers than the
    operator believes is worse than asking them to fix the vault.
    """
    parts = _group_parts(group) if group is not None else None
    wanted_tag = tag.strip().casefold() if tag is not None else None
    if wanted_tag == "":
        raise VaultSelectionError("the tag to select is empty")
    selected = [entry for entry in entries if entry.url and entry.url.strip()]
    if parts is not None:
        selected = [e for e in selected if e.group_path[: len(parts)] == parts]
    if wanted_tag is not None:
        selected = [e for e in selected if wanted_tag in (t.casefold() for t in e.tags)]
    if parts is None and wanted_tag is None:
        selected = [e for e in selected if _host_guess(e.url or "").startswith("captain.")]
    if not selected:
        hint = _group_hint(entries, parts) if parts is not None else ""
        raise VaultSelectionError(_describe_search(group, tag) + hint)

    problems: list[str] = []
    titles: dict[str, list[VaultEntry]] = {}
    origins: dict[str, list[str]] = {}
    built: list[tuple[VaultEntry, _Origin]] = []
    for entry in selected:
        if not entry.title or not entry.title.strip():
            problems.append(f"the entry {printable(entry.path, 80)!r} has no title")
            continue
        titles.setdefault(entry.title, []).append(entry)
        try:
            origin = _origin(entry.url or "")
        except ValueError as err:
            problems.append(f"{printable(entry.path, 80)!r}: {err}")
            continue
        origins.setdefault(origin.url, []).append(entry.title)
        built.append((entry, origin))
    duplicates = [title for title, same in titles.items() if len(same) > 1]
    if duplicates:
        names = ", ".join(
            f"{printable(title, 60)!r} ({' and '.join(printable(e.path, 80) for e in titles[title])})"
            for title in duplicates
        )
        problems.insert(0, f"instance names must be unique; duplicate titles: {names}")
    if problems:
        raise VaultSelectionError("; ".join(problems))

    instances = []
    for entry, origin in built:
        warnings = list(origin.notes)
        if entry.expired:
            warnings.append("the vault entry has expired")
        if entry.password is None:
            warnings.append("the vault entry has no password")
        warnings.extend(entry.issues)
        others = [name for name in origins[origin.url] if name != entry.title]
        if others:
            warnings.append("same URL as " + ", ".join(printable(name, 60) for name in others))
        instances.append(
            Instance(
                name=entry.title or "",
                url=origin.url,
                password=entry.password,
                totp=entry.totp,
                entry_path=entry.path,
                entry_uuid=entry.uuid,
                expired=entry.expired,
                warnings=tuple(warnings),
            )
        )
    return instances


def load_instances(
    path: Path,
    password: Secret | None,
    keyfile: Path | None = None,
    *,
    group: str | None = None,
    tag: str | None = None,
    allow_slow: bool = False,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> list[Instance]:
    """read_vault + select_instances: blocking, run it in a thread."""
    entries = read_vault(path, password, keyfile, allow_slow=allow_slow, max_bytes=max_bytes)
    return select_instances(entries, group=group, tag=tag)
