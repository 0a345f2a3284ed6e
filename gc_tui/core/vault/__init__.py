"""The KeePass file -> the CapRover instances it holds.

Three steps, one module each: ``file`` reads and decrypts the file safely (size cap, KDF
pre-check, our own key derivation), ``kdbx`` copies the entries out of the decrypted tree
(references, TOTP), ``entries`` turns the selected entries into instances (URLs, names).
Reading is blocking and CPU-bound: callers run it in a thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gc_tui.core.model import Instance
from gc_tui.core.secret import Secret
from gc_tui.core.vault.entries import normalise_url, select_instances
from gc_tui.core.vault.errors import (
    SlowVaultError,
    VaultCredentialsError,
    VaultError,
    VaultFileError,
    VaultFormatError,
    VaultSelectionError,
)
from gc_tui.core.vault.file import (
    DEFAULT_MAX_BYTES,
    KdfInfo,
    format_duration,
    kdf_precheck,
    read_vault,
)
from gc_tui.core.vault.kdbx import VaultEntry


@dataclass(frozen=True)
class UnlockedVault:
    """What an unlock yields: every entry (registry credentials are looked up among them)
    and the entries that are CapRover instances."""

    entries: tuple[VaultEntry, ...]
    instances: tuple[Instance, ...]


def unlock_vault(
    path: Path,
    password: Secret | None,
    keyfile: Path | None = None,
    *,
    group: str | None = None,
    tag: str | None = None,
    allow_slow: bool = False,
) -> UnlockedVault:
    """read_vault + select_instances, keeping the entries too: blocking, run it in a thread."""
    entries = read_vault(path, password, keyfile, allow_slow=allow_slow)
    return UnlockedVault(tuple(entries), tuple(select_instances(entries, group=group, tag=tag)))


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


__all__ = [
    "DEFAULT_MAX_BYTES",
    "KdfInfo",
    "SlowVaultError",
    "UnlockedVault",
    "VaultCredentialsError",
    "VaultEntry",
    "VaultError",
    "VaultFileError",
    "VaultFormatError",
    "VaultSelectionError",
    "format_duration",
    "kdf_precheck",
    "load_instances",
    "normalise_url",
    "read_vault",
    "select_instances",
    "unlock_vault",
]
