"""Write the demo's KeePass file: the fleet's entries plus decoys the vault reader must skip."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pykeepass import create_database  # type: ignore[import-untyped]

CAPROVER_GROUP = "CapRover"


def write_demo_vault(
    path: Path,
    entries: list[tuple[str, str, str]],
    password: str,
    *,
    otp_uris: Mapping[str, str] | None = None,
) -> None:
    """Create ``path`` (mode 0600) holding one entry per (title, url, password) in ``CapRover``.

    It also holds an entry in another group and a CapRover entry in the Recycle Bin; neither
    is a server to manage, so the demo shows that selection works. ``otp_uris`` maps a title to
    an ``otpauth://`` URI stored in the entry's ``otp`` field.
    """
    path = Path(path)
    # Create the file private before pykeepass writes secrets into it (it keeps the mode).
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)
    keepass = create_database(str(path), password=password)
    group = keepass.add_group(keepass.root_group, CAPROVER_GROUP)
    for title, url, entry_password in entries:
        entry = keepass.add_entry(group, title, "captain", entry_password, url=url)
        if otp_uris and title in otp_uris:
            entry.otp = otp_uris[title]
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
    keepass.save()
    os.chmod(path, 0o600)
