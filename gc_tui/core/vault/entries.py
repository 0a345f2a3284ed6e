"""Vault entries -> instances: URL normalisation and which entries are CapRover servers."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from gc_tui.core.hosts import decode_host, encode_host, is_loopback
from gc_tui.core.model import Instance
from gc_tui.core.text import printable
from gc_tui.core.vault.errors import VaultSelectionError
from gc_tui.core.vault.kdbx import VaultEntry

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
            # IDNA 2008, as browsers: IDNA 2003 (Python's "idna" codec) sends faß.de to
            # fass.de, another domain (docs/network.md).
            ascii_host = encode_host(hostname)
            notes.append(
                f"internationalised host name {printable(hostname, 80)}: "
                f"connecting to {ascii_host}"
            )
            hostname = ascii_host
        else:
            shown = decode_host(hostname)
            if shown is not None:
                # A punycode host can imitate another (a homograph): say how it reads.
                notes.append(f"the host {hostname} is punycode for {printable(shown, 80)}")
            elif any(label.lower().startswith("xn--") for label in hostname.split(".")):
                # httpx would refuse it only when the request is built, as an error of its own.
                raise ValueError("the host name has a punycode label that is not valid")
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
    if scheme == "http" and not is_loopback(host):
        notes.append(
            "http:// is not encrypted: the password is not sent unless the config sets "
            "allow_plain_http for this instance"
        )
    origin = f"{scheme}://{host}"
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        origin += f":{port}"
    return _Origin(origin, host, tuple(notes))


def normalise_url(raw: str) -> str:
    """``scheme://host[:port]`` from an entry's URL; ValueError with the reason otherwise.

    A missing scheme means https; path, query and fragment are dropped; http:// is kept
    (the CapRover client refuses to send a password over it to a host that is not this
    machine); user info (``user:pw@``) is refused; a non-ASCII host becomes its IDNA 2008
    (punycode) form.
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
            f"{printable(title, 60)!r} "
            f"({' and '.join(printable(e.path, 80) for e in titles[title])})"
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

