"""TOTP codes (RFC 6238) from a base32 seed, with the standard library only.

pyotp is not used on purpose: 2.12 rejects seeds shorter than 112 bits, and KeePass entries
commonly hold 16-character (80-bit) seeds (docs/security.md#totp-codes).

Error messages never contain the seed: a ValueError may end up in a log or on screen.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from urllib.parse import parse_qs, unquote, urlsplit

_ALGORITHMS = {"SHA1": hashlib.sha1, "SHA256": hashlib.sha256, "SHA512": hashlib.sha512}


def _normalise_algorithm(algorithm: str) -> str:
    name = algorithm.strip().upper().replace("-", "")
    if name not in _ALGORITHMS:
        raise ValueError(
            f"unknown TOTP algorithm {algorithm[:20]!r}: expected SHA1, SHA256 or SHA512"
        )
    return name


def decode_base32_secret(secret_b32: str) -> bytes:
    """Decode a base32 seed as people paste it: spaces, dashes, lower case, no padding."""
    cleaned = "".join(secret_b32.split()).replace("-", "").upper().rstrip("=")
    if not cleaned:
        raise ValueError("the TOTP secret is empty")
    padded = cleaned + "=" * (-len(cleaned) % 8)
    try:
        return base64.b32decode(padded, casefold=False)
    except (binascii.Error, ValueError):
        # Deliberately no detail: the exception text could echo part of the seed.
        raise ValueError("the TOTP secret is not valid base32") from None


def totp_code(
    secret_b32: str,
    *,
    digits: int = 6,
    period: int = 30,
    algorithm: str = "SHA1",
    now: float | None = None,
) -> str:
    """The TOTP code for ``now`` (default: the current time), zero-padded to ``digits``."""
    if not 1 <= digits <= 10:
        raise ValueError(f"TOTP digits must be between 1 and 10, not {digits}")
    if period <= 0:
        raise ValueError(f"TOTP period must be positive, not {period}")
    digest = _ALGORITHMS[_normalise_algorithm(algorithm)]
    key = decode_base32_secret(secret_b32)
    counter = int((time.time() if now is None else now) // period)
    mac = hmac.new(key, counter.to_bytes(8, "big"), digest).digest()
    offset = mac[-1] & 0x0F
    value = int.from_bytes(mac[offset : offset + 4], "big") & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


def parse_otpauth_uri(uri: str) -> tuple[str, int, int, str]:
    """``otpauth://totp/...`` -> (secret, digits, period, algorithm), validated.

    HOTP and Steam's variant (``encoder=steam``, letters instead of digits) are refused
    rather than producing codes the server would reject.
    """
    parts = urlsplit(uri.strip())
    if parts.scheme.lower() != "otpauth":
        raise ValueError("not an otpauth:// URI")
    if parts.netloc.lower() != "totp":
        raise ValueError(f"only TOTP is supported, not {unquote(parts.netloc)[:20]!r}")
    query = {k.lower(): v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    if query.get("encoder", "").lower() == "steam":
        raise ValueError("Steam TOTP codes (encoder=steam) are not supported")
    secret = query.get("secret", "")
    if not secret.strip():
        raise ValueError("the otpauth URI has no secret")
    decode_base32_secret(secret)
    try:
        digits = int(query.get("digits") or 6)
        period = int(query.get("period") or 30)
    except ValueError:
        raise ValueError("the otpauth URI has a non-numeric digits or period") from None
    if not 6 <= digits <= 10:
        raise ValueError(f"unsupported TOTP digits {digits}: expected 6 to 10")
    if period <= 0:
        raise ValueError(f"unsupported TOTP period {period}")
    algorithm = _normalise_algorithm(query.get("algorithm") or "SHA1")
    return "".join(secret.split()).upper(), digits, period, algorithm
