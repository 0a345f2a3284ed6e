"""Make real .kdbx files for tests (pykeepass writes them; nothing is mocked).

Cheap by default: the KDF is lowered (Argon2 64 KiB x 1, or AES-KDF 1,000 rounds) so a
vault opens in milliseconds. The real pykeepass template (Argon2 64 MiB x 14) is opened
once per process, then reused from memory.

    from tests.vaults import make_vault, DEFAULT_PASSWORD
    path = make_vault(tmp_path / "fleet.kdbx", [
        {"title": "alpha", "url": "https://captain.alpha.example.org", "password": "pw",
         "group": "CapRover/Staging", "tags": ["prod"], "otp": "otpauth://totp/...",
         "fields": {"TimeOtp-Secret-Base32": "..."}, "expired": True, "recycled": False},
    ])

Entry keys (all optional): title, url, password, username, notes, group ("A/B" or a
tuple), tags, otp, fields (custom string fields), expired (True: expiry in the past;
False/absent: never expires), recycled (moved to the Recycle Bin), uuid (uuid.UUID),
password_ref (title of an earlier entry: the password becomes {REF:P@I:<its uuid>}),
history_title (a history version with that title is kept inside the entry).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import os
import uuid as uuid_module
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from construct import Container  # type: ignore[import-untyped]
from pykeepass import PyKeePass  # type: ignore[import-untyped]
from pykeepass.kdbx_parsing.common import compute_key_composite  # type: ignore[import-untyped]
from pykeepass.kdbx_parsing.kdbx import KDBX  # type: ignore[import-untyped]
from pykeepass.kdbx_parsing.kdbx4 import kdf_uuids  # type: ignore[import-untyped]
from pykeepass.pykeepass import (  # type: ignore[import-untyped]
    BLANK_DATABASE_LOCATION,
    BLANK_DATABASE_PASSWORD,
)

from gc_tui.core.aeskdf import aes_kdf

DEFAULT_PASSWORD = "correct horse battery staple"
DATA = Path(__file__).parent / "data"
KDBX31_TEMPLATE = DATA / "kdbx31_template.kdbx"
KDBX31_TEMPLATE_PASSWORD = "template"

# Cheap and real KDF settings; "real" is pykeepass's template / keepassxc-cli's default.
CHEAP_ARGON2 = {"memory": 64 * 1024, "iterations": 1, "parallelism": 1}
REAL_ARGON2 = {"memory": 64 * 1024 * 1024, "iterations": 14, "parallelism": 2}
CHEAP_AES_ROUNDS = 1000
REAL_AES_ROUNDS = 1_000_000


@functools.cache
def _kdbx4_template() -> bytes:
    """pykeepass's blank KDBX 4 database with a cheap Argon2, as bytes (made once)."""
    kp = PyKeePass(BLANK_DATABASE_LOCATION, password=BLANK_DATABASE_PASSWORD)
    _set_argon2(kp, "argon2d", **CHEAP_ARGON2)
    buffer = io.BytesIO()
    kp.save(buffer)
    return buffer.getvalue()


def _variant(kind: int, key: str, value: Any) -> Container:
    return Container(type=kind, key=key, value=value, next_byte=0)


def _link(params: Any) -> None:
    # construct's RepeatUntil stops *building* at the first item whose next_byte is 0, so
    # each item must announce the next one and only the last may be 0.
    items = list(params.values())
    for item, following in zip(items, [*items[1:], None], strict=True):
        item.next_byte = following.type if following is not None else 0


def _set_argon2(kp: PyKeePass, kdf: str, *, memory: int, iterations: int, parallelism: int) -> None:
    params = kp.kdbx.header.value.dynamic_header.kdf_parameters.data.dict
    salt = params["S"].value
    params.clear()
    params["$UUID"] = _variant(
        0x42, "$UUID", kdf_uuids["argon2id" if kdf == "argon2id" else "argon2"]
    )
    params["I"] = _variant(0x05, "I", iterations)
    params["M"] = _variant(0x05, "M", memory)
    params["P"] = _variant(0x04, "P", parallelism)
    params["S"] = _variant(0x42, "S", salt)
    params["V"] = _variant(0x04, "V", 0x13)
    _link(params)


def _set_aes_kdf(kp: PyKeePass, rounds: int) -> None:
    if kp.version[0] == 3:
        kp.kdbx.header.value.dynamic_header.transform_rounds.data = rounds
        return
    params = kp.kdbx.header.value.dynamic_header.kdf_parameters.data.dict
    params.clear()
    params["$UUID"] = _variant(0x42, "$UUID", kdf_uuids["aeskdf"])
    params["R"] = _variant(0x05, "R", rounds)
    params["S"] = _variant(0x42, "S", os.urandom(32))
    _link(params)


def _group(kp: PyKeePass, path: str | Sequence[str] | None) -> Any:
    parts = [p for p in path.split("/") if p] if isinstance(path, str) else list(path or ())
    group = kp.root_group
    for name in parts:
        # Compared in Python: names may be XPath-hostile on purpose.
        found = next((g for g in group.subgroups if g.name == name), None)
        group = found if found is not None else kp.add_group(group, name)
    return group


def make_keyfile(path: Path, kind: str = "xml2", *, seed: bytes = b"gc-tui test key") -> Path:
    """A key file of one of the formats pykeepass reads: xml2 (.keyx), xml1, raw32, hex64, any."""
    key = hashlib.sha256(seed).digest()
    if kind == "xml2":
        check = hashlib.sha256(key).digest()[:4].hex().upper()
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<KeyFile><Meta><Version>2.0</Version></Meta>'
            f'<Key><Data Hash="{check}">{key.hex().upper()}</Data></Key></KeyFile>\n'
        )
        path.write_text(body)
    elif kind == "xml1":
        body = (
            '<?xml version="1.0" encoding="utf-8"?>\n<KeyFile><Meta><Version>1.00</Version></Meta>'
            f"<Key><Data>{base64.b64encode(key).decode()}</Data></Key></KeyFile>\n"
        )
        path.write_text(body)
    elif kind == "raw32":
        path.write_bytes(key)
    elif kind == "hex64":
        path.write_text(key.hex())
    elif kind == "any":
        path.write_bytes(seed * 50)
    else:
        raise ValueError(kind)
    return path


def make_vault(
    path: Path,
    entries: Sequence[Mapping[str, Any]] = (),
    *,
    password: str | None = DEFAULT_PASSWORD,
    keyfile: Path | None = None,
    kdbx3: bool = False,
    kdf: str | None = None,
    cheap_kdf: bool = True,
) -> Path:
    """Write a vault holding ``entries`` to ``path`` and return the path.

    ``kdf``: "argon2d" (KDBX 4 default), "argon2id" or "aes-kdf" (the only one for KDBX 3.1).
    """
    kdf = kdf or ("aes-kdf" if kdbx3 else "argon2d")
    if kdbx3:
        if kdf != "aes-kdf":
            raise ValueError("KDBX 3.1 only has AES-KDF")
        kp = PyKeePass(io.BytesIO(KDBX31_TEMPLATE.read_bytes()), password=KDBX31_TEMPLATE_PASSWORD)
    else:
        kp = PyKeePass(io.BytesIO(_kdbx4_template()), password=BLANK_DATABASE_PASSWORD)

    rounds = CHEAP_AES_ROUNDS if cheap_kdf else REAL_AES_ROUNDS
    if kdf == "aes-kdf":
        _set_aes_kdf(kp, rounds)
    else:
        _set_argon2(kp, kdf, **(CHEAP_ARGON2 if cheap_kdf else REAL_ARGON2))

    by_title: dict[str, Any] = {}
    for index, spec in enumerate(entries):
        expired = spec.get("expired")
        expiry = None
        if expired is True:
            expiry = datetime(2001, 1, 1, tzinfo=UTC)
        elif isinstance(expired, datetime):
            expiry = expired
        # Placeholder title and user: add_entry searches for duplicates with XPath.
        entry = kp.add_entry(
            _group(kp, spec.get("group")),
            title=f"entry-{index}",
            username=f"user-{index}",
            password=spec.get("password") or "",
            url=spec.get("url"),
            notes=spec.get("notes"),
            tags=list(spec["tags"]) if spec.get("tags") else None,
            otp=spec.get("otp"),
            expiry_time=expiry,
            force_creation=True,
        )
        if spec.get("history_title"):
            entry.title = spec["history_title"]
            entry.save_history()  # the old title lives on only inside <History>
        entry.title = spec.get("title") or ""
        entry.username = spec.get("username") or ""
        if "uuid" in spec:
            entry.uuid = spec["uuid"]
        if spec.get("password_ref"):
            target = by_title[spec["password_ref"]]
            entry.password = "{REF:P@I:" + target.uuid.hex.upper() + "}"
        for key, value in (spec.get("fields") or {}).items():
            entry.set_custom_property(key, value, protect="Secret" in key)
        if spec.get("title"):
            by_title.setdefault(spec["title"], entry)
        if spec.get("recycled"):
            kp.trash_entry(entry)

    kp.password = password
    kp.keyfile = str(keyfile) if keyfile is not None else None
    transformed = None
    if kdf == "aes-kdf" and not cheap_kdf:
        # pykeepass would take ~1.3 s in its Python loop; the C path is checked against it.
        composite = compute_key_composite(password=password, keyfile=kp.keyfile)
        header = kp.kdbx.header.value.dynamic_header
        seed = header.transform_seed.data if kdbx3 else header.kdf_parameters.data.dict["S"].value
        transformed = aes_kdf(seed, rounds, composite)
    buffer = io.BytesIO()
    kp.save(buffer, transformed_key=transformed)
    path.write_bytes(buffer.getvalue())
    return path


# ---------------------------------------------------------------------------- tampering


def header_length(data: bytes) -> int:
    return int(KDBX.subcons[0].parse(data).length)


def patch_header(data: bytes, **changes: int) -> bytes:
    """The file with KDF values changed in the header (rounds, memory, iterations,
    parallelism), body untouched: what an attacker who can edit the file can do."""
    parsed = KDBX.subcons[0].parse(data)
    header = parsed.value
    dynamic = header.dynamic_header
    for name, value in changes.items():
        if name == "rounds" and header.major_version == 3:
            dynamic.transform_rounds.data = value
            continue
        key = {"rounds": "R", "memory": "M", "iterations": "I", "parallelism": "P"}[name]
        dynamic.kdf_parameters.data.dict[key].value = value
    rebuilt: bytes = KDBX.subcons[0].build(Container(value=header))
    return rebuilt + data[parsed.length :]


def with_version(data: bytes, major: int, minor: int) -> bytes:
    return data[:8] + minor.to_bytes(2, "little") + major.to_bytes(2, "little") + data[12:]


def random_uuid() -> uuid_module.UUID:
    return uuid_module.uuid4()
