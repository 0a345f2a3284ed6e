"""Domain values shared by the vault, the client, the audit, the deploy engine and the UIs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import NamedTuple

from gc_tui.core.images import is_server_build
from gc_tui.core.secret import Secret


@dataclass(frozen=True)
class TotpSpec:
    """How to compute an instance's TOTP code; the seed is a secret like the password."""

    secret: Secret  # base32, as stored in the vault
    digits: int = 6
    period: int = 30
    algorithm: str = "SHA1"


@dataclass(frozen=True)
class Instance:
    """One CapRover server, as found in the vault and refined by the config file."""

    name: str
    url: str  # normalised origin: scheme://host[:port]
    password: Secret | None = field(default=None, repr=False)
    totp: TotpSpec | None = field(default=None, repr=False)
    entry_path: str = ""  # KeePass group path and title, for messages
    entry_uuid: str = ""
    expired: bool = False
    warnings: tuple[str, ...] = ()
    # The fields below come from the config file only (config.py), never from the vault.
    insecure: bool = False  # TLS verification off
    read_only: bool = False
    ca_file: Path | None = None  # a CA trusted for this instance, on top of the system's
    proxy: str | None = None  # "http://host:port"; None: the environment's proxy, if any
    allow_plain_http: bool = False  # the password may cross the network in clear


class InstanceStatus(StrEnum):
    OK = "ok"
    UNREACHABLE = "unreachable"
    AUTH_FAILED = "auth_failed"
    OTP_REQUIRED = "otp_required"
    LOCKED_OUT = "locked_out"
    TLS_ERROR = "tls_error"
    ERROR = "error"


class AppVersion(NamedTuple):
    """One entry of an app's ``versions[]``; ``image`` is None for a failed deploy.

    A named tuple rather than a dataclass: an audit of 200 instances builds tens of
    thousands of these, and a tuple is several times cheaper to create.
    """

    version: int
    image: str | None
    timestamp: str | None


@dataclass(frozen=True)
class AppInfo:
    """One app on one instance, read from ``appDefinitions``."""

    name: str
    deployed_version: int
    image: str | None  # None when no versions[] entry matches deployedVersion
    deployed_at: str | None
    tags: tuple[str, ...] = ()
    project_id: str = ""
    is_building: bool = False
    # Oldest first, as CapRover lists them; the client's sequence parses on first use.
    versions: Sequence[AppVersion] = ()

    @property
    def history_length(self) -> int:
        return len(self.versions)

    @property
    def manual(self) -> bool:
        """A server build (``img-captain-...``) needs a human, not a batch deploy."""
        return self.image is not None and is_server_build(self.image)

    def previous_image(self) -> AppVersion | None:
        """The newest successful version before the deployed one (the rollback target)."""
        earlier = [
            v for v in self.versions if v.version < self.deployed_version and v.image is not None
        ]
        return max(earlier, key=lambda v: v.version) if earlier else None


@dataclass(frozen=True)
class VersionInfo:
    """CapRover's own version; ``can_update`` False may also mean the server could not check."""

    current: str
    latest: str
    can_update: bool


@dataclass(frozen=True)
class InstanceAudit:
    """What one instance answered; exactly one per instance, whatever happened."""

    instance: Instance
    status: InstanceStatus
    error: str | None = None
    version: VersionInfo | None = None
    apps: tuple[AppInfo, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status is InstanceStatus.OK
