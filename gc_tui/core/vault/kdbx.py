"""The decrypted KeePass tree -> plain entries: fields, ``{REF:...}`` references, TOTP.

Entries are filtered in Python, never through pykeepass's XPath search, because its queries
are built by string formatting. Fields are copied into frozen dataclasses and the tree is
dropped by the caller.
"""

from __future__ import annotations

import base64
import binascii
import re
import struct
import uuid as uuid_module
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from gc_tui.core.model import TotpSpec
from gc_tui.core.secret import Secret
from gc_tui.core.vault.errors import VaultFormatError

_REF_DEPTH = 10


@dataclass(frozen=True)
class VaultEntry:
    """One entry's fields, copied out of the decrypted tree, references already resolved."""

    title: str | None
    url: str | None
    password: Secret | None = field(repr=False)
    username: str | None
    tags: tuple[str, ...]
    group_path: tuple[str, ...]  # group names below the root group
    uuid: str
    expired: bool
    totp: TotpSpec | None = field(repr=False)
    # Problems found while reading the entry (unresolved reference, unusable TOTP field).
    issues: tuple[str, ...] = ()

    @property
    def path(self) -> str:
        return "/".join((*self.group_path, self.title or "(untitled)"))


# ---------------------------------------------------------------------------- extraction


@dataclass
class _RawEntry:
    fields: dict[str, str]
    tags: tuple[str, ...]
    group_path: tuple[str, ...]
    uuid: str
    expired: bool
    in_recycle_bin: bool


_EPOCH = datetime(1, 1, 1, tzinfo=UTC)


def _decode_time(text: str | None, version: tuple[int, int]) -> datetime | None:
    if not text:
        return None
    try:
        if version >= (4, 0):
            raw = base64.b64decode(text, validate=True)
            if len(raw) == 8:
                return _EPOCH + timedelta(seconds=struct.unpack("<q", raw)[0])
        parsed = datetime.fromisoformat(text)
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed
    except (ValueError, binascii.Error, OverflowError):
        return None


def _uuid_text(text: str | None) -> str:
    try:
        return str(uuid_module.UUID(bytes=base64.b64decode(text or "", validate=True)))
    except (ValueError, binascii.Error):
        return ""


def _split_tags(text: str | None) -> tuple[str, ...]:
    if not text:
        return ()
    return tuple(tag.strip() for tag in re.split(r"[,;]", text) if tag.strip())


def _walk(
    group: Any, path: tuple[str, ...], recycle_uuid: str, in_bin: bool, version: tuple[int, int]
) -> Iterator[_RawEntry]:
    now = datetime.now(UTC)
    for entry in group.findall("Entry"):  # direct children only: History is nested deeper
        fields: dict[str, str] = {}
        for string in entry.findall("String"):
            key = string.findtext("Key")
            if key is not None:
                fields[key] = string.findtext("Value") or ""
        times = entry.find("Times")
        expired = False
        if times is not None and (times.findtext("Expires") or "").strip().lower() == "true":
            expiry = _decode_time(times.findtext("ExpiryTime"), version)
            expired = expiry is not None and expiry < now
        yield _RawEntry(
            fields=fields,
            tags=_split_tags(entry.findtext("Tags")),
            group_path=path,
            uuid=_uuid_text(entry.findtext("UUID")),
            expired=expired,
            in_recycle_bin=in_bin,
        )
    for child in group.findall("Group"):
        child_uuid = _uuid_text(child.findtext("UUID"))
        name = child.findtext("Name") or ""
        yield from _walk(
            child,
            (*path, name),
            recycle_uuid,
            in_bin or (bool(recycle_uuid) and child_uuid == recycle_uuid),
            version,
        )


_REF = re.compile(r"\{REF:([TUPANI])@([TUPANI]):([^}]*)\}", re.IGNORECASE)
_REF_FIELDS = {"T": "Title", "U": "UserName", "P": "Password", "A": "URL", "N": "Notes"}


class _Resolver:
    """KeePass field references ({REF:P@I:<uuid>}), resolved in Python, never via XPath."""

    def __init__(self, raws: Sequence[_RawEntry]) -> None:
        self._raws = raws
        self._by_uuid = {raw.uuid.replace("-", ""): raw for raw in raws if raw.uuid}

    def _find(self, search_in: str, value: str) -> _RawEntry | None:
        if search_in == "I":
            return self._by_uuid.get(value.strip().replace("-", "").lower())
        key = _REF_FIELDS[search_in]
        # KeePass searches case-insensitively for the text inside the field.
        needle = value.casefold()
        for raw in self._raws:
            if needle in raw.fields.get(key, "").casefold():
                return raw
        return None

    def resolve(self, value: str, depth: int = 0) -> str | None:
        """The value with every reference replaced, or None if one cannot be resolved."""
        if "{REF:" not in value.upper():
            return value
        if depth >= _REF_DEPTH:
            return None
        unresolved = False

        def replace(match: re.Match[str]) -> str:
            nonlocal unresolved
            wanted, search_in, text = (
                match.group(1).upper(),
                match.group(2).upper(),
                match.group(3),
            )
            target = self._find(search_in, text)
            if target is None:
                unresolved = True
                return ""
            if wanted == "I":
                return target.uuid.replace("-", "").upper()
            return target.fields.get(_REF_FIELDS[wanted], "")

        replaced = _REF.sub(replace, value)
        if unresolved:
            return None
        return self.resolve(replaced, depth + 1)

    def field(self, raw: _RawEntry, issues: list[str], key: str, what: str) -> str | None:
        """A field of ``raw`` with references resolved; None (and an issue) if unresolvable."""
        value = raw.fields.get(key)
        if not value:
            return None
        resolved = self.resolve(value)
        if resolved is None:
            issues.append(f"its {what} field refers to an entry that does not exist")
        return resolved or None


def _totp_from_fields(fields: dict[str, str]) -> tuple[TotpSpec | None, str | None]:
    """The entry's TOTP settings from any of the layouts KeePass clients use, or a problem."""
    from gc_tui.core.totp import decode_base32_secret, parse_otpauth_uri

    otp = fields.get("otp", "").strip()
    if otp:
        try:
            secret, digits, period, algorithm = parse_otpauth_uri(otp)
        except ValueError as err:
            return None, f"the otp field is unusable: {err}"
        return TotpSpec(Secret(secret), digits=digits, period=period, algorithm=algorithm), None

    raw_secret: bytes | None = None
    try:
        if fields.get("TimeOtp-Secret-Base32", "").strip():
            raw_secret = decode_base32_secret(fields["TimeOtp-Secret-Base32"])
        elif fields.get("TimeOtp-Secret-Hex", "").strip():
            raw_secret = bytes.fromhex("".join(fields["TimeOtp-Secret-Hex"].split()))
        elif fields.get("TimeOtp-Secret-Base64", "").strip():
            raw_secret = base64.b64decode(fields["TimeOtp-Secret-Base64"].strip(), validate=True)
        elif fields.get("TimeOtp-Secret", ""):
            raw_secret = fields["TimeOtp-Secret"].encode("utf-8")
    except (ValueError, binascii.Error):
        # No detail: a decoder's message could echo part of the seed.
        return None, "the TimeOtp-Secret field is not valid"
    if raw_secret is not None:
        try:
            digits = int(fields.get("TimeOtp-Length", "").strip() or 6)
            period = int(fields.get("TimeOtp-Period", "").strip() or 30)
        except ValueError:
            return None, "TimeOtp-Length or TimeOtp-Period is not a number"
        # KeePass writes "HMAC-SHA-256"; totp.py wants SHA256.
        algorithm = (
            fields.get("TimeOtp-Algorithm", "")
            .strip()
            .upper()
            .removeprefix("HMAC-")
            .replace("-", "")
            or "SHA1"
        )
        if algorithm not in ("SHA1", "SHA256", "SHA512"):
            return None, "TimeOtp-Algorithm is not HMAC-SHA-1, -256 or -512"
        if not 6 <= digits <= 10 or period <= 0:
            return None, "TimeOtp-Length or TimeOtp-Period is out of range"
        if not raw_secret:
            return None, "the TimeOtp-Secret field is empty"
        secret = base64.b32encode(raw_secret).decode("ascii").rstrip("=")
        return TotpSpec(Secret(secret), digits=digits, period=period, algorithm=algorithm), None

    # Older KeePassXC / KeeOtp layout: "TOTP Seed" plus "TOTP Settings" = "30;6".
    seed = fields.get("TOTP Seed", "").strip()
    if seed:
        settings = fields.get("TOTP Settings", "30;6").strip() or "30;6"
        try:
            period_text, digits_text = [*settings.split(";"), "6"][:2]
            period, digits = int(period_text), int(digits_text)
            decode_base32_secret(seed)
        except ValueError:
            return None, "the TOTP Seed / TOTP Settings fields are unusable"
        if not 6 <= digits <= 10 or period <= 0:
            return None, "the TOTP Settings field is out of range"
        return TotpSpec(Secret("".join(seed.split()).upper()), digits=digits, period=period), None
    return None, None


def extract_entries(root: Any, version: tuple[int, int]) -> list[VaultEntry]:
    meta_bin = root.findtext("Meta/RecycleBinUUID")
    recycle_uuid = _uuid_text(meta_bin)
    if recycle_uuid == str(uuid_module.UUID(int=0)):
        recycle_uuid = ""
    top = root.find("Root/Group")
    if top is None:
        raise VaultFormatError("the vault has no root group")
    raws = list(_walk(top, (), recycle_uuid, False, version))
    resolver = _Resolver(raws)
    entries: list[VaultEntry] = []
    for raw in raws:
        if raw.in_recycle_bin:
            continue
        issues: list[str] = []

        title = resolver.field(raw, issues, "Title", "title")
        url = resolver.field(raw, issues, "URL", "URL")
        password = resolver.field(raw, issues, "Password", "password")
        username = resolver.field(raw, issues, "UserName", "user name")
        resolved_fields = dict(raw.fields)
        for key in ("otp", "TimeOtp-Secret-Base32", "TimeOtp-Secret", "TOTP Seed"):
            if raw.fields.get(key):
                resolved_fields[key] = resolver.field(raw, issues, key, key) or ""
        totp, totp_problem = _totp_from_fields(resolved_fields)
        if totp_problem:
            issues.append(totp_problem)
        entries.append(
            VaultEntry(
                title=title,
                url=url,
                password=Secret(password) if password else None,
                username=username,
                tags=raw.tags,
                group_path=raw.group_path,
                uuid=raw.uuid,
                expired=raw.expired,
                totp=totp,
                issues=tuple(issues),
            )
        )
    return entries

