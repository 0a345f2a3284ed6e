"""The vault's errors: each one readable line that never holds a secret."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gc_tui.core.vault.file import KdfInfo


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

