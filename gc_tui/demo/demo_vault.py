"""Write the demo's KeePass file: the fleet's entries plus decoys the vault reader must skip.

It starts from a packaged empty vault whose key derivation is cheap (made by
scripts/make_demo_vault_template.py), so writing and unlocking the demo vault costs
milliseconds instead of the seconds a real KDF takes: the demo's password is shown on screen,
there is nothing to protect, and the first frame must come quickly.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from pathlib import Path

CAPROVER_GROUP = "CapRover"
REGISTRIES_GROUP = "Registries"
TEMPLATE = Path(__file__).parent / "data" / "demo_template.kdbx"
TEMPLATE_PASSWORD = "gc-tui demo template"


def write_demo_vault(
    path: Path,
    entries: list[tuple[str, str, str]],
    password: str,
    *,
    otp_uris: Mapping[str, str] | None = None,
    registry_logins: Mapping[str, tuple[str, str]] | None = None,
) -> None:
    """Create ``path`` (mode 0600) holding one entry per (title, url, password) in ``CapRover``.

    It also holds an entry in another group and a CapRover entry in the Recycle Bin; neither
    is a server to manage, so the demo shows that selection works. ``otp_uris`` maps a title to
    an ``otpauth://`` URI stored in the entry's ``otp`` field. ``registry_logins`` maps a
    registry host to (username, password), stored as ``Registries/<host>``.
    """
    from pykeepass import PyKeePass  # type: ignore[import-untyped]

    keepass = PyKeePass(io.BytesIO(TEMPLATE.read_bytes()), password=TEMPLATE_PASSWORD)
    keepass.password = password
    group = keepass.add_group(keepass.root_group, CAPROVER_GROUP)
    for title, url, entry_password in entries:
        entry = keepass.add_entry(group, title, "captain", entry_password, url=url)
        if otp_uris and title in otp_uris:
            entry.otp = otp_uris[title]
    if registry_logins:
        registries = keepass.add_group(keepass.root_group, REGISTRIES_GROUP)
        for host, (username, secret) in registry_logins.items():
            keepass.add_entry(registries, host, username, secret, url=f"https://{host}")
    personal = keepass.add_group(keepass.root_group, "Personal")
    keepass.add_entry(
        personal,
        "Webmail",
        "operator@example.org",
        "not-a-caprover-pw",
        url="https://mail.example.org",
    )
    retired = keepass.add_entry(
        group,
        "retired-server",
        "captain",
        "retired-demo-Xo0",
        url="https://captain.retired.example.org",
    )
    keepass.trash_entry(retired)
    buffer = io.BytesIO()
    keepass.save(buffer)
    # Created private before any secret goes in.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, buffer.getvalue())
    finally:
        os.close(fd)
