"""The config file: strict TOML, no secrets, flags win over it.

An unknown key or a bad value is an error naming the file and the key, so a typo such as
``insecure = "no"`` never silently turns TLS verification off. CA files are read when the
config loads, so a missing or non-PEM one stops the command before anything is audited.

An ``[instances.NAME]`` section applies to the vault entry whose title is exactly NAME: case,
spaces and punctuation count, as they do for ``--instance``. ``unmatched_sections`` names the
sections that match no entry, so a typo is seen rather than silently ignored.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from gc_tui.core.audit import DEFAULT_CONCURRENCY as DEFAULT_AUDIT_CONCURRENCY
from gc_tui.core.http import HttpSettings, ca_file_problem
from gc_tui.core.model import Instance
from gc_tui.core.registry_config import RegistryConfigError, RegistrySettings, parse_registries
from gc_tui.core.text import printable


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class InstanceConfig:
    insecure: bool = False
    read_only: bool = False
    ca_file: Path | None = None
    proxy: str | None = None
    allow_plain_http: bool = False


@dataclass(frozen=True)
class Config:
    path: Path | None = None
    vault: Path | None = None
    keyfile: Path | None = None
    group: str | None = None
    tag: str | None = None
    targets: Path | None = None
    concurrency: int = DEFAULT_AUDIT_CONCURRENCY
    deploy_concurrency: int = 8
    update_concurrency: int = 4
    read_only: bool = False
    lock_after_minutes: float = 15.0
    hold_repositories: tuple[str, ...] = ("postgres",)
    client: HttpSettings = field(default_factory=HttpSettings)
    proxy: str | None = None  # for every instance without a proxy of its own
    ca_file: Path | None = None  # for every instance without a CA file of its own
    # [registries."HOST"]: a mirror URL and the vault entry of credentials, per registry.
    registries: Mapping[str, RegistrySettings] = field(default_factory=dict)
    instances: Mapping[str, InstanceConfig] = field(default_factory=dict)

    def apply_to(self, instances: Sequence[Instance]) -> list[Instance]:
        """The config's settings onto the vault's instances: an instance's section wins over
        the global ``proxy`` and ``ca_file``, which win over the environment."""
        result = []
        for instance in instances:
            extra = self.instances.get(instance.name, _NO_SECTION)
            warnings = instance.warnings
            if extra.allow_plain_http and instance.url.lower().startswith("http:"):
                warnings = (
                    *warnings,
                    "allow_plain_http is set: the password crosses the network in clear",
                )
            result.append(
                replace(
                    instance,
                    insecure=extra.insecure,
                    read_only=instance.read_only or extra.read_only,
                    ca_file=extra.ca_file or self.ca_file,
                    proxy=extra.proxy or self.proxy,
                    allow_plain_http=extra.allow_plain_http,
                    warnings=warnings,
                )
            )
        return result

    def unmatched_sections(self, instances: Sequence[Instance]) -> list[str]:
        """A warning for each ``[instances.NAME]`` that names none of ``instances``.

        Pass every instance the vault selection found (before ``--instance`` narrows it), so
        a section is not reported only because this run leaves its instance out.
        """
        names = {instance.name for instance in instances}
        where = f"{self.path}: " if self.path is not None else ""
        return [
            f"{where}[instances.{_toml_key(name)}] matches no vault entry (titles must "
            "match exactly, case and spaces included); its settings apply to nothing"
            for name in self.instances
            if name not in names
        ]

    def ca_files(self) -> dict[str, Path]:
        """Each section's CA file by instance name. ``apply_to`` already puts the CA file that
        applies (the section's, else the global one) on each Instance, which FleetSession
        prefers; this mapping is only its fallback for instances built without ``apply_to``."""
        return {name: c.ca_file for name, c in self.instances.items() if c.ca_file is not None}


_NO_SECTION = InstanceConfig()


def default_config_path() -> Path:
    explicit = os.environ.get("GC_TUI_CONFIG")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "gc-tui" / "config.toml"


_TOP = {
    "vault": "path",
    "keyfile": "path",
    "group": "str",
    "tag": "str",
    "targets": "path",
    "concurrency": "posint",
    "deploy_concurrency": "posint",
    "update_concurrency": "posint",
    "read_only": "bool",
    "lock_after_minutes": "posnum",
    "hold_repositories": "strlist",
    "proxy": "proxy",
    "ca_file": "ca_file",
}
_TIMEOUTS = {"connect": "posnum", "read": "posnum", "request": "posnum"}
_INSTANCE = {
    "insecure": "bool",
    "read_only": "bool",
    "ca_file": "ca_file",
    "proxy": "proxy",
    "allow_plain_http": "bool",
}
_SECRET_KEYS = {"password", "passwd", "token", "secret", "otp"}


def load_config(path: Path | None = None) -> Config:
    """Read the config file; a missing default file means the defaults. A file named by
    --config or $GC_TUI_CONFIG must exist: a typo there would quietly drop read_only and the
    rest of what the operator meant to set."""
    explicit = path is not None or bool(os.environ.get("GC_TUI_CONFIG"))
    path = path or default_config_path()
    if not path.exists():
        if explicit:
            raise ConfigError(f"{path}: no such config file")
        return Config()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot read it ({type(err).__name__})") from None
    return parse_config(raw, path)


def parse_config(raw: Mapping[str, Any], path: Path) -> Config:
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "timeouts":
            continue
        if key in ("instances", "registries"):
            continue
        kind = _TOP.get(key)
        if kind is None:
            raise ConfigError(
                _unknown(path, key, _TOP.keys() | {"timeouts", "instances", "registries"})
            )
        values[key] = _check(path, key, value, kind, path.parent)
    if "hold_repositories" in values:
        values["hold_repositories"] = tuple(values["hold_repositories"])

    timeouts = _table(path, raw, "timeouts")
    client = HttpSettings()
    for key, value in timeouts.items():
        kind = _TIMEOUTS.get(key)
        if kind is None:
            raise ConfigError(_unknown(path, f"timeouts.{key}", _TIMEOUTS.keys()))
        seconds = _check(path, f"timeouts.{key}", value, kind, path.parent)
        if key == "connect":
            client = replace(client, connect_timeout=float(seconds))
        elif key == "read":
            client = replace(client, read_timeout=float(seconds))
        else:
            client = replace(client, request_deadline=float(seconds))

    instances: dict[str, InstanceConfig] = {}
    for name, table in _table(path, raw, "instances").items():
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: instances.{name} must be a table")
        settings: dict[str, Any] = {}
        for key, value in table.items():
            kind = _INSTANCE.get(key)
            if kind is None:
                if key.lower() in _SECRET_KEYS:
                    raise ConfigError(
                        f"{path}: instances.{name}.{key}: secrets belong in the vault, "
                        "not in the config file"
                    )
                raise ConfigError(_unknown(path, f"instances.{name}.{key}", _INSTANCE.keys()))
            settings[key] = _check(path, f"instances.{name}.{key}", value, kind, path.parent)
        instances[name] = InstanceConfig(**settings)
    try:
        registries = parse_registries(raw.get("registries", {}), path)
    except RegistryConfigError as err:
        raise ConfigError(str(err)) from None
    return Config(path=path, client=client, instances=instances, registries=registries, **values)


def _table(path: Path, raw: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: {key} must be a table ([{key}])")
    return value


def _unknown(path: Path, key: str, known: Any) -> str:
    if key.rsplit(".", 1)[-1].lower() in _SECRET_KEYS:
        return f"{path}: {key}: secrets belong in the vault, not in the config file"
    return f"{path}: unknown key {key!r} (known: {', '.join(sorted(known))})"


def _check(path: Path, key: str, value: Any, kind: str, base: Path) -> Any:
    def bad(expected: str) -> ConfigError:
        return ConfigError(f"{path}: {key} must be {expected}, not {value!r}")

    if kind == "bool":
        if not isinstance(value, bool):
            raise bad("true or false")
        return value
    if kind == "str":
        if not isinstance(value, str) or not value:
            raise bad("a non-empty string")
        return value
    if kind == "path":
        if not isinstance(value, str) or not value:
            raise bad("a path string")
        resolved = Path(value).expanduser()
        return resolved if resolved.is_absolute() else base / resolved
    if kind == "ca_file":
        file = _check(path, key, value, "path", base)
        problem = ca_file_problem(file)
        if problem is not None:
            raise ConfigError(f"{path}: {key}: the CA file {file} cannot be used: {problem}")
        return file
    if kind == "proxy":
        return _proxy(path, key, value)
    if kind == "posint":
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise bad("a whole number of at least 1")
        return value
    if kind == "posnum":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise bad("a positive number")
        return value
    if kind == "strlist":
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise bad("a list of strings")
        return value
    raise AssertionError(kind)


def _toml_key(name: str) -> str:
    """``name`` as the section header would write it: bare when TOML allows, else quoted."""
    if name and all(c.isascii() and (c.isalnum() or c in "-_") for c in name):
        return name
    return json.dumps(printable(name, 60), ensure_ascii=False)


def _proxy(path: Path, key: str, value: Any) -> str:
    """An ``http(s)://host[:port]`` proxy URL; a password in it is refused like any secret."""
    expected = "a proxy URL such as 'http://proxy.example.org:3128'"
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{path}: {key} must be {expected}")
    parts = urlsplit(value.strip())
    if "@" in parts.netloc:
        # Never echo the value: the part before @ may be a password.
        raise ConfigError(
            f"{path}: {key}: a proxy user or password does not belong in the config file; "
            "set HTTPS_PROXY in the environment instead"
        )
    try:
        port_ok = parts.port is None or 0 < parts.port
    except ValueError:
        port_ok = False
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or not port_ok:
        raise ConfigError(f"{path}: {key} must be {expected}, not {printable(value, 100)!r}")
    return value.strip()
