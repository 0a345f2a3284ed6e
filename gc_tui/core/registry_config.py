"""The config file's ``[registries."HOST"]`` tables, and the vault entries they name.

```
[registries."docker.io"]
url = "https://mirror.example.org"      # send Docker Hub's traffic to a mirror
[registries."registry.example.org"]
vault_entry = "Registries/registry.example.org"   # username + password for private images
```

Strict like the rest of the config: an unknown key, a URL that would send traffic in clear text
across a network, or a secret written into the file is an error naming the file and the key,
worded as gc_tui/config.py words its own. Credentials never live in the config: ``vault_entry``
names a KeePass entry (its path ``Group/Title``, or its title when that is unique), whose
username and password are sent to the registry's token service only (docs/registries.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from gc_tui.core.images import try_parse_image
from gc_tui.core.registry_ref import allowed_origin, canonical_host
from gc_tui.core.secret import Secret

if TYPE_CHECKING:  # the vault package loads pykeepass; parsing a config must not
    from gc_tui.core.vault.kdbx import VaultEntry

_KEYS = ("url", "vault_entry")
_SECRET_KEYS = {"password", "passwd", "token", "secret", "otp", "username", "user", "auth"}


class RegistryConfigError(ValueError):
    """A ``[registries]`` table that cannot be used; the message names the file and key."""


@dataclass(frozen=True)
class RegistrySettings:
    """One ``[registries."HOST"]`` table."""

    host: str  # canonical: "docker.io" for every spelling of Docker Hub
    url: str | None = None  # the origin that serves this host's repositories (a mirror)
    vault_entry: str | None = None  # the KeePass entry holding this registry's credentials


@dataclass(frozen=True)
class RegistryCredentials:
    """Basic credentials for a registry's token service; the password prints as stars."""

    username: str
    password: Secret = field(repr=False)


def parse_registries(raw: object, path: Path) -> dict[str, RegistrySettings]:
    """The value of the config's ``registries`` key -> settings per canonical registry host."""
    if not isinstance(raw, dict):
        raise RegistryConfigError(f"{path}: registries must be a table ([registries])")
    result: dict[str, RegistrySettings] = {}
    for host, table in raw.items():
        where = f'registries."{host}"'
        canonical = _check_host(path, where, host)
        if canonical in result:
            raise RegistryConfigError(
                f"{path}: {where}: names the same registry as another table ({canonical})"
            )
        if not isinstance(table, dict):
            raise RegistryConfigError(f"{path}: {where} must be a table ([{where}])")
        result[canonical] = _settings(path, where, canonical, table)
    return result


def _check_host(path: Path, where: str, host: str) -> str:
    parsed = try_parse_image(f"{host}/probe")
    if parsed is None or parsed.registry != host:
        raise RegistryConfigError(
            f"{path}: {where}: not a registry host (host[:port] as in an image name, "
            "e.g. ghcr.io or docker.io)"
        )
    return canonical_host(host)


def _settings(path: Path, where: str, host: str, table: Mapping[str, Any]) -> RegistrySettings:
    url: str | None = None
    vault_entry: str | None = None
    for key, value in table.items():
        name = f"{where}.{key}"
        if key not in _KEYS:
            if key.lower() in _SECRET_KEYS:
                raise RegistryConfigError(
                    f"{path}: {name}: secrets belong in the vault, not in the config file; "
                    "name the entry with vault_entry"
                )
            raise RegistryConfigError(f"{path}: unknown key {name!r} (known: {', '.join(_KEYS)})")
        if not isinstance(value, str) or not value:
            raise RegistryConfigError(f"{path}: {name} must be a non-empty string, not {value!r}")
        if key == "url":
            url = _check_url(path, name, value)
        else:
            vault_entry = value
    return RegistrySettings(host=host, url=url, vault_entry=vault_entry)


def _check_url(path: Path, name: str, value: str) -> str:
    parts = urlsplit(value)
    if parts.username is not None or parts.password is not None:
        raise RegistryConfigError(
            f"{path}: {name}: secrets belong in the vault, not in the config file; "
            "name the entry with vault_entry"
        )
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RegistryConfigError(f"{path}: {name} must be an http(s) URL, not {value!r}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise RegistryConfigError(
            f"{path}: {name} must be an origin (scheme://host[:port]) with no path, not {value!r}"
        )
    if not allowed_origin(value):
        raise RegistryConfigError(
            f"{path}: {name} must use https (plain http only to a loopback address), not {value!r}"
        )
    return f"{parts.scheme}://{parts.netloc}"


def mirrors(registries: Mapping[str, RegistrySettings]) -> dict[str, str]:
    """Registry host -> origin, for the hosts whose table sets ``url``."""
    return {host: s.url for host, s in registries.items() if s.url is not None}


def registry_credentials(
    registries: Mapping[str, RegistrySettings], entries: Sequence[VaultEntry], path: Path
) -> dict[str, RegistryCredentials]:
    """The credentials of every registry whose table names a ``vault_entry``.

    An entry is found by its path (``Registries/ghcr.io``) or, failing that, by a title no
    other entry has. Errors name the config key and the entry, never a password.
    """
    result: dict[str, RegistryCredentials] = {}
    for host, settings in registries.items():
        if settings.vault_entry is None:
            continue
        key = f'registries."{host}".vault_entry'
        entry = _find_entry(path, key, settings.vault_entry, entries)
        if not entry.username or entry.password is None or not entry.password:
            raise RegistryConfigError(
                f"{path}: {key}: the vault entry {settings.vault_entry!r} needs both a "
                "username and a password"
            )
        result[host] = RegistryCredentials(entry.username, entry.password)
    return result


def _find_entry(path: Path, key: str, name: str, entries: Sequence[VaultEntry]) -> VaultEntry:
    by_path = [entry for entry in entries if entry.path == name]
    if len(by_path) == 1:
        return by_path[0]
    by_title = [entry for entry in entries if entry.title == name]
    if len(by_path) > 1 or len(by_title) > 1:
        raise RegistryConfigError(
            f"{path}: {key}: more than one vault entry is called {name!r}; use its full path"
        )
    if not by_title:
        raise RegistryConfigError(f"{path}: {key}: no vault entry called {name!r}")
    return by_title[0]
