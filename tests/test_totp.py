"""TOTP codes must match RFC 6238 exactly, for any seed length, and errors must not leak seeds."""

from __future__ import annotations

import base64

import pytest

from gc_tui.core.totp import parse_otpauth_uri, totp_code

SEEDS = {
    "SHA1": base64.b32encode(b"12345678901234567890").decode(),
    "SHA256": base64.b32encode(b"12345678901234567890123456789012").decode(),
    "SHA512": base64.b32encode(b"1234567890" * 6 + b"1234").decode(),
}

# RFC 6238 appendix B.
VECTORS = [
    (59, "94287082", "46119246", "90693936"),
    (1111111109, "07081804", "68084774", "25091201"),
    (1111111111, "14050471", "67062674", "99943326"),
    (1234567890, "89005924", "91819424", "93441116"),
    (2000000000, "69279037", "90698825", "38618901"),
    (20000000000, "65353130", "77737706", "47863826"),
]


class TestRfcVectors:
    """Every RFC 6238 test vector, for the three algorithms, with 8 digits."""

    @pytest.mark.parametrize(("now", "sha1", "sha256", "sha512"), VECTORS)
    def test_vector(self, now: int, sha1: str, sha256: str, sha512: str) -> None:
        for algorithm, expected in (("SHA1", sha1), ("SHA256", sha256), ("SHA512", sha512)):
            got = totp_code(SEEDS[algorithm], digits=8, algorithm=algorithm, now=now)
            assert got == expected, algorithm

    def test_six_digits_is_the_low_part(self) -> None:
        assert totp_code(SEEDS["SHA1"], now=59) == "287082"


class TestSeedFormats:
    """Seeds are accepted as people paste them, including short 80-bit ones."""

    def test_80_bit_seed(self) -> None:
        seed = base64.b32encode(b"0123456789").decode()  # 16 chars, 80 bits
        assert len(totp_code(seed, now=0)) == 6

    def test_spaces_lowercase_and_no_padding_are_equivalent(self) -> None:
        seed = SEEDS["SHA1"]
        messy = " ".join(seed[i : i + 4] for i in range(0, len(seed), 4)).lower().rstrip("=")
        assert totp_code(messy, now=59) == totp_code(seed, now=59)

    def test_unpadded_odd_length(self) -> None:
        seed = base64.b32encode(b"abcdefghijk").decode().rstrip("=")
        assert totp_code(seed, now=1) == totp_code(seed + "=" * (-len(seed) % 8), now=1)

    def test_period_changes_code_boundary(self) -> None:
        seed = SEEDS["SHA1"]
        assert totp_code(seed, now=59, period=60) == totp_code(seed, now=0, period=60)
        assert totp_code(seed, now=59, period=30) != totp_code(seed, now=0, period=30)


class TestErrors:
    """Bad input gives a readable ValueError that never echoes the seed."""

    def test_invalid_base32(self) -> None:
        with pytest.raises(ValueError, match="not valid base32") as info:
            totp_code("SECRET1!SEED")
        assert "SECRET1" not in str(info.value)

    def test_empty(self) -> None:
        with pytest.raises(ValueError, match="empty"):
            totp_code("   ")

    def test_unknown_algorithm(self) -> None:
        with pytest.raises(ValueError, match="unknown TOTP algorithm"):
            totp_code(SEEDS["SHA1"], algorithm="MD5")


class TestOtpauthUri:
    """Only well-formed TOTP URIs are accepted; defaults follow the Key URI format."""

    def test_defaults(self) -> None:
        uri = "otpauth://totp/CapRover:admin?secret=jbsw y3dp&issuer=CapRover"
        assert parse_otpauth_uri(uri) == ("JBSWY3DP", 6, 30, "SHA1")

    def test_explicit_parameters(self) -> None:
        uri = "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&digits=8&period=60&algorithm=sha256"
        assert parse_otpauth_uri(uri) == ("JBSWY3DPEHPK3PXP", 8, 60, "SHA256")

    @pytest.mark.parametrize(
        ("uri", "message"),
        [
            ("https://example.org/?secret=JBSWY3DP", "not an otpauth"),
            ("otpauth://hotp/x?secret=JBSWY3DP&counter=1", "only TOTP"),
            ("otpauth://totp/x?secret=JBSWY3DP&encoder=steam", "Steam"),
            ("otpauth://totp/x?issuer=a", "no secret"),
            ("otpauth://totp/x?secret=11111111", "not valid base32"),
            ("otpauth://totp/x?secret=JBSWY3DP&digits=abc", "non-numeric"),
            ("otpauth://totp/x?secret=JBSWY3DP&digits=4", "digits"),
            ("otpauth://totp/x?secret=JBSWY3DP&period=0", "period"),
            ("otpauth://totp/x?secret=JBSWY3DP&algorithm=MD5", "algorithm"),
        ],
    )
    def test_rejected(self, uri: str, message: str) -> None:
        with pytest.raises(ValueError, match=message):
            parse_otpauth_uri(uri)
