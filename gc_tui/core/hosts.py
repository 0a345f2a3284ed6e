"""Host names as the network sees them: IDNA 2008 encoding, and which hosts are this machine.

Both the vault (turning an entry's URL into an origin) and the CapRover client (deciding whether
a password may travel over plain HTTP) ask these questions; docs/network.md gives the sources.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

import idna


def encode_host(hostname: str) -> str:
    """The ASCII (punycode) form of an internationalised host name; ValueError if invalid.

    IDNA 2008 with the UTS #46 mapping, as browsers and httpx do: ``faß.de`` stays a domain of
    its own (``xn--fa-hia.de``) where IDNA 2003 would turn it into ``fass.de``.
    """
    try:
        return idna.encode(hostname, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        raise ValueError("the host name is not a valid internationalised name") from None


def decode_host(hostname: str) -> str | None:
    """The Unicode form of a host written in punycode (``xn--`` labels); None otherwise."""
    if not any(label.lower().startswith("xn--") for label in hostname.split(".")):
        return None
    try:
        return idna.decode(hostname)
    except (idna.IDNAError, UnicodeError):
        return None


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (``[::1]`` brackets allowed).

    Traffic to them never leaves this machine (an SSH tunnel, the demo fleet), so plain HTTP
    there exposes nothing to the network.
    """
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def sends_in_clear(url: str) -> bool:
    """True when a request to ``url`` would cross a network unencrypted: ``http://`` to a
    host that is not this machine."""
    parts = urlsplit(url)
    return parts.scheme.lower() == "http" and not is_loopback(parts.hostname or "")
