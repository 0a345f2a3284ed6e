"""Reading a KeePass file safely: size cap, KDF pre-check, key derivation, decryption.

Reading is blocking and CPU-bound (the key derivation): callers run it in a thread.

The order of work is the hardening: read the file once (size-capped, never written), check
the KDF settings in the header before paying for them, derive the key ourselves (AES-KDF in
C, Argon2 via argon2-cffi) so the KDF runs with exactly the checked values, let pykeepass
decrypt from the in-memory bytes, and hand the tree to ``kdbx.py`` to copy the fields out.
Every failure becomes one readable :class:`VaultError` line that never contains a secret.
"""

from __future__ import annotations

import io
import os
import stat
import zlib
from dataclasses import dataclass
from pathlib import Path

from gc_tui.core import aeskdf
from gc_tui.core.kdbx_header import KdbxHeader, KdbxHeaderError, parse_header
from gc_tui.core.secret import Secret
from gc_tui.core.text import printable
from gc_tui.core.vault.errors import (
    SlowVaultError,
    VaultCredentialsError,
    VaultError,
    VaultFileError,
    VaultFormatError,
)
from gc_tui.core.vault.kdbx import VaultEntry, extract_entries

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
# A key file can be any file (it is then hashed), but nobody uses a big one.
MAX_KEYFILE_BYTES = 16 * 1024 * 1024
MAX_ARGON2_MEMORY = 1024 * 1024 * 1024
MAX_UNLOCK_SECONDS = 30.0
# Argon2 costs about 0.4-0.9 ms per MiB and iteration here (libargon2, any lane count);
# the estimate rounds up so a slow machine is not surprised.
_ARGON2_SECONDS_PER_MIB_ITERATION = 0.001
_REF_DEPTH = 10


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
        entries = extract_entries(kp.tree.getroot(), header.version)
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

