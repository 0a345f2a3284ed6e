"""The vault: real .kdbx files in, instances or one readable error line out."""

from __future__ import annotations

import io
import os
import stat
import time
from pathlib import Path
from typing import Any

import pytest
from pykeepass.kdbx_parsing.common import (  # type: ignore[import-untyped]
    aes_kdf as pykeepass_aes_kdf,
)
from pykeepass.kdbx_parsing.common import compute_key_composite

from gc_tui.core import aeskdf
from gc_tui.core.kdbx_header import parse_header
from gc_tui.core.model import Instance
from gc_tui.core.secret import Secret
from gc_tui.core.vault import (
    SlowVaultError,
    VaultCredentialsError,
    VaultEntry,
    VaultError,
    VaultFileError,
    VaultFormatError,
    VaultSelectionError,
    kdf_precheck,
    load_instances,
    normalise_url,
    read_vault,
    select_instances,
)
from gc_tui.core.vault import file as vault_file
from tests.vaults import (
    DEFAULT_PASSWORD,
    header_length,
    make_keyfile,
    make_vault,
    patch_header,
    with_version,
)

PASSWORD = Secret(DEFAULT_PASSWORD)
ENTRY_SECRET = "entry-pw-S3cr3t!"
TOTP_SEED = "JBSWY3DPEHPK3PXP"

# A small fleet in the layouts operators really use (docs/security.md#entry-layouts-the-tests-use).
FLEET: list[dict[str, Any]] = [
    {
        "title": "alpha",
        "url": "https://captain.alpha.example.org",
        "password": ENTRY_SECRET,
        "group": "CapRover",
        "tags": ["prod", "2fa"],
    },
    {
        "title": "golf",
        "url": "captain.golf.example.org",
        "password": "pw-golf",
        "group": "CapRover/Staging",
    },
    {
        "title": "hotel",
        "url": "https://captain.hotel.example.org",
        "password": "pw-hotel",
        "group": "CapRover",
        "recycled": True,
    },
    {
        "title": "gitlab",
        "url": "https://gitlab.example.org",
        "password": "pw-gitlab",
        "group": "Other",
        "tags": ["prod"],
    },
    {
        "title": "zulu",
        "url": "https://captain.zulu.example.org:8443/some/path?token=abc",
        "password": "pw-zulu",
        "group": "Clients/CapRover",
    },
    {"title": "juliet", "password": "pw-juliet", "group": "CapRover"},
    {
        "title": "kilo",
        "url": "http://captain.kilo.example.org/",
        "password": "pw-kilo",
        "group": "CapRover",
    },
    {
        "title": "delta",
        "url": "https://captain.delta.example.org",
        "password": "pw-delta",
        "group": "Other",
        "tags": ["prod"],
        "otp": f"otpauth://totp/CapRover:delta?secret={TOTP_SEED}&digits=8&period=60&algorithm=SHA256",
    },
    {
        "title": "lima",
        "url": "https://captain.lima.example.org",
        "password": "pw-lima",
        "group": "CapRover",
        "fields": {
            "TimeOtp-Secret-Base32": TOTP_SEED,
            "TimeOtp-Length": "8",
            "TimeOtp-Period": "45",
            "TimeOtp-Algorithm": "HMAC-SHA-512",
        },
    },
    {
        "title": "echo",
        "url": "https://captain.echo.example.org",
        "password_ref": "alpha",
        "group": "CapRover",
        "expired": True,
        "history_title": "echo-old",
    },
]
LIVE_TITLES = {"alpha", "golf", "gitlab", "zulu", "juliet", "kilo", "delta", "lima", "echo"}

FORMATS: dict[str, dict[str, Any]] = {
    "kdbx4-argon2d": {},
    "kdbx4-argon2id": {"kdf": "argon2id"},
    "kdbx4-aes-kdf": {"kdf": "aes-kdf"},
    "kdbx31-aes-kdf": {"kdbx3": True},
}


@pytest.fixture(scope="session")
def fleet_vaults(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("fleet")
    return {name: make_vault(folder / f"{name}.kdbx", FLEET, **kw) for name, kw in FORMATS.items()}


@pytest.fixture(scope="session")
def fleet_entries(fleet_vaults: dict[str, Path]) -> list[VaultEntry]:
    return read_vault(fleet_vaults["kdbx4-argon2d"], PASSWORD)


def by_title(items: list[Any]) -> dict[str | None, Any]:
    return {item.title if isinstance(item, VaultEntry) else item.name: item for item in items}


def assert_clean_error(err: BaseException, *secrets: str) -> None:
    """One line, no traceback text, no secret, and no chained pykeepass exception."""
    text = str(err)
    assert text and "\n" not in text
    assert "Traceback" not in text and "Error(" not in text
    for secret in (DEFAULT_PASSWORD, ENTRY_SECRET, *secrets):
        assert secret not in text and secret not in repr(err)
    assert err.__cause__ is None


class TestOpening:
    """Every supported format opens with the right credentials and gives the same entries."""

    @pytest.mark.parametrize("name", FORMATS)
    def test_each_format_reads_the_same_entries(
        self, fleet_vaults: dict[str, Path], name: str
    ) -> None:
        entries = read_vault(fleet_vaults[name], PASSWORD)
        assert {e.title for e in entries} == LIVE_TITLES
        alpha = by_title(entries)["alpha"]
        assert alpha.password == Secret(ENTRY_SECRET)
        assert alpha.group_path == ("CapRover",)
        assert alpha.tags == ("prod", "2fa")

    @pytest.mark.parametrize(
        ("name", "version", "kdf"),
        [
            ("kdbx4-argon2d", (4, 0), "argon2d"),
            ("kdbx4-argon2id", (4, 0), "argon2id"),
            ("kdbx4-aes-kdf", (4, 0), "aes-kdf"),
            ("kdbx31-aes-kdf", (3, 1), "aes-kdf"),
        ],
    )
    def test_precheck_reports_version_and_kdf(
        self, fleet_vaults: dict[str, Path], name: str, version: tuple[int, int], kdf: str
    ) -> None:
        info = kdf_precheck(fleet_vaults[name].read_bytes())
        assert (info.version, info.kdf) == (version, kdf)
        assert info.limit_problem() is None

    def test_real_argon2_settings_open(self, tmp_path: Path) -> None:
        path = make_vault(tmp_path / "real.kdbx", FLEET[:1], cheap_kdf=False)
        info = kdf_precheck(path.read_bytes())
        assert (info.memory, info.iterations, info.parallelism) == (64 << 20, 14, 2)
        assert [e.title for e in read_vault(path, PASSWORD)] == ["alpha"]

    @pytest.mark.parametrize("kdbx3", [True, False])
    def test_keepassxc_default_aes_rounds_open(self, tmp_path: Path, kdbx3: bool) -> None:
        path = make_vault(
            tmp_path / "aes.kdbx", FLEET[:1], kdbx3=kdbx3, kdf="aes-kdf", cheap_kdf=False
        )
        assert kdf_precheck(path.read_bytes()).rounds == 1_000_000
        assert [e.title for e in read_vault(path, PASSWORD)] == ["alpha"]

    @pytest.mark.parametrize("kind", ["xml2", "xml1", "raw32", "hex64", "any"])
    def test_password_and_key_file(self, tmp_path: Path, kind: str) -> None:
        keyfile = make_keyfile(tmp_path / "key", kind)
        path = make_vault(tmp_path / "v.kdbx", FLEET[:1], keyfile=keyfile)
        assert [e.title for e in read_vault(path, PASSWORD, keyfile)] == ["alpha"]
        with pytest.raises(VaultCredentialsError) as caught:
            read_vault(path, PASSWORD)  # the key file is part of the key
        assert_clean_error(caught.value)

    @pytest.mark.parametrize("kdbx3", [True, False])
    def test_key_file_only_means_password_none(self, tmp_path: Path, kdbx3: bool) -> None:
        keyfile = make_keyfile(tmp_path / "key.keyx")
        path = make_vault(
            tmp_path / "v.kdbx", FLEET[:1], password=None, keyfile=keyfile, kdbx3=kdbx3
        )
        assert [e.title for e in read_vault(path, None, keyfile)] == ["alpha"]
        # An empty password is a different key from no password at all.
        with pytest.raises(VaultCredentialsError):
            read_vault(path, Secret(""), keyfile)

    def test_returns_plain_values_only(self, fleet_entries: list[VaultEntry]) -> None:
        for entry in fleet_entries:
            assert isinstance(entry, VaultEntry)
            assert ENTRY_SECRET not in repr(entry)
            assert "pykeepass" not in type(entry.password).__module__


class TestCredentialErrors:
    """Wrong credentials: VaultCredentialsError (the TUI refocuses the password box)."""

    @pytest.mark.parametrize("name", ["kdbx4-argon2d", "kdbx31-aes-kdf", "kdbx4-aes-kdf"])
    def test_wrong_password(self, fleet_vaults: dict[str, Path], name: str) -> None:
        wrong = "hunter2-wrong-password"
        with pytest.raises(VaultCredentialsError) as caught:
            read_vault(fleet_vaults[name], Secret(wrong))
        assert "wrong password or key file" in str(caught.value)
        assert name in str(caught.value)  # the file is named
        assert_clean_error(caught.value, wrong)
        assert caught.value.__context__ is None  # no pykeepass frames holding the key

    @pytest.mark.parametrize("failure", ["wrong password", "damaged key file"])
    def test_error_traceback_holds_no_key_material(self, tmp_path: Path, failure: str) -> None:
        """A crash screen printing locals must not find the key file or derived keys."""
        import traceback

        keyfile = make_keyfile(tmp_path / "k.keyx", "xml2")
        path = make_vault(tmp_path / "v.kdbx", FLEET[:1], keyfile=keyfile)
        if failure == "damaged key file":
            keyfile.write_text(keyfile.read_text().replace('Hash="', 'Hash="00000000', 1))
        with pytest.raises(VaultCredentialsError) as caught:
            read_vault(path, Secret("wrong"), keyfile)
        frames = [frame for frame, _ in traceback.walk_tb(caught.value.__traceback__)]
        assert [f.f_code.co_name for f in frames][1:] == ["read_vault"]  # [0] is this test
        key_bytes = keyfile.read_bytes()
        for value in frames[1].f_locals.values():
            assert not isinstance(value, bytes) or (key_bytes not in value and len(value) != 32)
        assert caught.value.__context__ is None

    def test_wrong_key_file(self, tmp_path: Path) -> None:
        right = make_keyfile(tmp_path / "right.keyx", seed=b"right")
        wrong = make_keyfile(tmp_path / "wrong.keyx", seed=b"wrong")
        path = make_vault(tmp_path / "v.kdbx", FLEET[:1], keyfile=right)
        with pytest.raises(VaultCredentialsError) as caught:
            read_vault(path, PASSWORD, wrong)
        assert_clean_error(caught.value)

    def test_key_file_given_but_not_needed(
        self, fleet_vaults: dict[str, Path], tmp_path: Path
    ) -> None:
        keyfile = make_keyfile(tmp_path / "k.keyx")
        with pytest.raises(VaultCredentialsError):
            read_vault(fleet_vaults["kdbx4-argon2d"], PASSWORD, keyfile)

    def test_missing_key_file(self, fleet_vaults: dict[str, Path], tmp_path: Path) -> None:
        with pytest.raises(VaultFileError) as caught:
            read_vault(fleet_vaults["kdbx4-argon2d"], PASSWORD, tmp_path / "nope.keyx")
        assert str(caught.value).startswith("key file ") and "not found" in str(caught.value)
        assert_clean_error(caught.value)

    def test_key_file_with_bad_hash(self, tmp_path: Path) -> None:
        keyfile = make_keyfile(tmp_path / "k.keyx")
        path = make_vault(tmp_path / "v.kdbx", FLEET[:1], keyfile=keyfile)
        text = keyfile.read_text()
        start = text.index('Hash="') + 6
        keyfile.write_text(text[:start] + "00000000" + text[start + 8 :])
        with pytest.raises(VaultCredentialsError, match="hash check failed") as caught:
            read_vault(path, PASSWORD, keyfile)
        assert_clean_error(caught.value)

    def test_neither_password_nor_key_file(self, fleet_vaults: dict[str, Path]) -> None:
        with pytest.raises(VaultCredentialsError, match="password or a key file is needed"):
            read_vault(fleet_vaults["kdbx4-argon2d"], None)


class TestBadFiles:
    """Files that are not (good) KeePass databases: one readable line each."""

    def expect(self, path: Path, error: type[VaultError], fragment: str, **kw: Any) -> None:
        with pytest.raises(error) as caught:
            read_vault(path, PASSWORD, **kw)
        assert fragment in str(caught.value), str(caught.value)
        assert_clean_error(caught.value)

    def test_missing_file(self, tmp_path: Path) -> None:
        self.expect(tmp_path / "missing.kdbx", VaultFileError, "not found")

    def test_directory(self, tmp_path: Path) -> None:
        self.expect(tmp_path, VaultFileError, "is a directory")

    def test_fifo_is_refused_without_blocking(self, tmp_path: Path) -> None:
        fifo = tmp_path / "pipe.kdbx"
        os.mkfifo(fifo)
        self.expect(fifo, VaultFileError, "not a regular file")

    def test_over_the_size_cap(self, fleet_vaults: dict[str, Path]) -> None:
        self.expect(fleet_vaults["kdbx4-argon2d"], VaultFileError, "limit", max_bytes=1000)

    def test_empty_file(self, tmp_path: Path) -> None:
        (tmp_path / "e.kdbx").write_bytes(b"")
        self.expect(tmp_path / "e.kdbx", VaultFormatError, "empty")

    def test_text_file(self, tmp_path: Path) -> None:
        (tmp_path / "t.kdbx").write_text("hello, I am a text file\n" * 20)
        self.expect(tmp_path / "t.kdbx", VaultFormatError, "not a KeePass database")

    def test_keepass_1_file(self, tmp_path: Path) -> None:
        (tmp_path / "old.kdb").write_bytes(b"\x03\xd9\xa2\x9a\x65\xfb\x4b\xb5" + bytes(200))
        self.expect(tmp_path / "old.kdb", VaultFormatError, "KeePass 1.x")

    @pytest.mark.parametrize("name", ["kdbx4-argon2d", "kdbx31-aes-kdf"])
    @pytest.mark.parametrize("keep", [20, "header", "half"])
    def test_truncated(
        self, fleet_vaults: dict[str, Path], tmp_path: Path, name: str, keep: Any
    ) -> None:
        data = fleet_vaults[name].read_bytes()
        size = {"header": header_length(data), "half": len(data) // 2}.get(keep, keep)
        (tmp_path / "cut.kdbx").write_bytes(data[:size])
        with pytest.raises(VaultFormatError) as caught:
            read_vault(tmp_path / "cut.kdbx", PASSWORD)
        assert_clean_error(caught.value)

    def test_damaged_header_kdbx4(self, fleet_vaults: dict[str, Path], tmp_path: Path) -> None:
        data = bytearray(fleet_vaults["kdbx4-argon2d"].read_bytes())
        data[header_length(bytes(data)) - 10] ^= 0xFF  # inside the end-of-header field
        (tmp_path / "h.kdbx").write_bytes(bytes(data))
        self.expect(tmp_path / "h.kdbx", VaultFormatError, "damaged")

    def test_damaged_payload_kdbx4(self, fleet_vaults: dict[str, Path], tmp_path: Path) -> None:
        data = bytearray(fleet_vaults["kdbx4-argon2d"].read_bytes())
        data[-40] ^= 0xFF
        (tmp_path / "p.kdbx").write_bytes(bytes(data))
        self.expect(tmp_path / "p.kdbx", VaultFormatError, "damaged")

    @pytest.mark.parametrize(("major", "minor"), [(5, 0), (2, 0), (4, 2), (3, 0)])
    def test_unsupported_version(
        self, fleet_vaults: dict[str, Path], tmp_path: Path, major: int, minor: int
    ) -> None:
        data = with_version(fleet_vaults["kdbx4-argon2d"].read_bytes(), major, minor)
        (tmp_path / "v.kdbx").write_bytes(data)
        self.expect(
            tmp_path / "v.kdbx", VaultFormatError, f"KDBX version {major}.{minor} is not supported"
        )

    def test_unknown_kdf(self, fleet_vaults: dict[str, Path], tmp_path: Path) -> None:
        data = fleet_vaults["kdbx4-argon2d"].read_bytes()
        argon2d_uuid = b"\xefcm\xdf\x8c)DK\x91\xf7\xa9\xa4\x03\xe3\n\x0c"
        (tmp_path / "k.kdbx").write_bytes(data.replace(argon2d_uuid, bytes(16), 1))
        self.expect(tmp_path / "k.kdbx", VaultFormatError, "unknown key derivation function")

    def test_argon2_zero_lanes(self, fleet_vaults: dict[str, Path], tmp_path: Path) -> None:
        data = patch_header(fleet_vaults["kdbx4-argon2d"].read_bytes(), parallelism=0)
        (tmp_path / "p.kdbx").write_bytes(data)
        self.expect(tmp_path / "p.kdbx", VaultFormatError, "parallelism")


def kdf_must_not_run(*args: object) -> bytes:
    raise AssertionError("the KDF ran on a hostile header")


class TestHostileKdf:
    """Absurd KDF settings are refused from the header, before any key derivation."""

    @pytest.mark.parametrize(
        ("name", "changes", "fragment"),
        [
            ("kdbx4-argon2d", {"memory": 1 << 40}, "1 TiB"),
            ("kdbx4-argon2d", {"iterations": 10**9}, "about 17 h"),
            ("kdbx4-argon2id", {"memory": 2 << 30, "iterations": 2}, "2 GiB"),
            ("kdbx4-aes-kdf", {"rounds": 2**62}, "years"),
            ("kdbx31-aes-kdf", {"rounds": 2**64 - 1}, "years"),
            ("kdbx31-aes-kdf", {"rounds": 5_000_000_000}, "min"),
        ],
    )
    def test_refused_from_the_header(
        self,
        fleet_vaults: dict[str, Path],
        tmp_path: Path,
        name: str,
        changes: dict[str, int],
        fragment: str,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        path = tmp_path / "hostile.kdbx"
        path.write_bytes(patch_header(fleet_vaults[name].read_bytes(), **changes))
        # Were the pre-check skipped, fail now instead of deriving a key for hours.
        monkeypatch.setattr(vault_file, "_transformed_key", kdf_must_not_run)
        started = time.perf_counter()
        with pytest.raises(SlowVaultError) as caught:
            read_vault(path, PASSWORD)
        elapsed = time.perf_counter() - started  # reported, not asserted (no wall-clock limits)
        assert fragment in str(caught.value), str(caught.value)
        assert "refused" in str(caught.value)
        assert_clean_error(caught.value)
        print(f"refused in {elapsed * 1000:.1f} ms: {caught.value}")

    def test_more_memory_than_the_machine_cannot_be_overridden(
        self, fleet_vaults: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        path = tmp_path / "hostile.kdbx"
        path.write_bytes(patch_header(fleet_vaults["kdbx4-argon2d"].read_bytes(), memory=1 << 50))
        monkeypatch.setattr(vault_file, "_transformed_key", kdf_must_not_run)
        with pytest.raises(SlowVaultError) as caught:
            read_vault(path, PASSWORD, allow_slow=True)
        assert not caught.value.can_override

    def test_estimate_uses_the_fast_aes_path(self, fleet_vaults: dict[str, Path]) -> None:
        # KeePassXC's "1 second" AES-KDF setting (~77M rounds) is ~100 s in pykeepass's loop.
        data = patch_header(fleet_vaults["kdbx31-aes-kdf"].read_bytes(), rounds=77_000_000)
        info = kdf_precheck(data)
        assert info.limit_problem() is None
        assert info.estimated_seconds < 10

    def test_allow_slow_overrides_the_limit(
        self, fleet_vaults: dict[str, Path], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(vault_file, "MAX_UNLOCK_SECONDS", 0.0)
        path = fleet_vaults["kdbx31-aes-kdf"]
        with pytest.raises(SlowVaultError) as caught:
            read_vault(path, PASSWORD)
        assert caught.value.can_override and caught.value.info.kdf == "aes-kdf"
        assert {e.title for e in read_vault(path, PASSWORD, allow_slow=True)} == LIVE_TITLES


class TestFastAesKdf:
    """The C path derives exactly the key pykeepass's own Python loop derives."""

    @pytest.mark.parametrize(
        "backend", [aeskdf.LIBCRYPTO, aeskdf.PYCRYPTODOME], ids=["libcrypto", "pycryptodome"]
    )
    @pytest.mark.parametrize("rounds", [0, 1, 2, 999, 65536, 65537, 140_001])
    def test_matches_pykeepass(self, backend: Any, rounds: int) -> None:
        if backend is None:
            pytest.skip("no system libcrypto")
        seed, composite = os.urandom(32), compute_key_composite(password="pw", keyfile=None)
        assert aeskdf.aes_kdf(seed, rounds, composite, backend=backend) == pykeepass_aes_kdf(
            seed, rounds, composite
        )

    def test_pykeepass_accepts_the_fast_key(self, fleet_vaults: dict[str, Path]) -> None:
        from pykeepass import PyKeePass  # type: ignore[import-untyped]

        data = fleet_vaults["kdbx31-aes-kdf"].read_bytes()
        info = kdf_precheck(data)
        header = parse_header(data)
        key = aeskdf.aes_kdf(
            header.seed, info.rounds or 0, compute_key_composite(DEFAULT_PASSWORD, None)
        )
        kp = PyKeePass(io.BytesIO(data), transformed_key=key)
        assert (
            kp.transformed_key
            == PyKeePass(io.BytesIO(data), password=DEFAULT_PASSWORD).transformed_key
        )


class TestReadOnly:
    """Reading never writes: bytes, mode, mtime, symlinks and sibling .tmp files stay."""

    def test_nothing_changes(self, tmp_path: Path) -> None:
        path = make_vault(tmp_path / "db.kdbx", FLEET)
        path.chmod(0o600)
        os.utime(path, ns=(1_000_000_000, 1_000_000_000))
        (tmp_path / "db.tmp").write_text("unrelated")
        link = tmp_path / "link.kdbx"
        link.symlink_to(path)
        before = (path.read_bytes(), path.stat())
        read_vault(link, PASSWORD)
        with pytest.raises(VaultCredentialsError):
            read_vault(path, Secret("wrong"))
        after = path.stat()
        assert path.read_bytes() == before[0]
        assert stat.S_IMODE(after.st_mode) == 0o600
        assert after.st_mtime_ns == before[1].st_mtime_ns == 1_000_000_000
        assert link.is_symlink() and (tmp_path / "db.tmp").read_text() == "unrelated"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["db.kdbx", "db.tmp", "link.kdbx"]


class TestEntries:
    """What read_vault copies out of the file."""

    def test_recycle_bin_and_history_excluded(self, fleet_entries: list[VaultEntry]) -> None:
        titles = [e.title for e in fleet_entries]
        assert "hotel" not in titles and "echo-old" not in titles
        assert titles.count("echo") == 1

    def test_reference_resolved(self, fleet_entries: list[VaultEntry]) -> None:
        echo = by_title(fleet_entries)["echo"]
        assert echo.password == Secret(ENTRY_SECRET)
        assert echo.issues == ()

    def test_reference_by_title_and_nested(self, tmp_path: Path) -> None:
        path = make_vault(
            tmp_path / "v.kdbx",
            [
                {"title": "shared-admin", "url": "https://x.org", "password": "pw-shared"},
                {
                    "title": "a",
                    "url": "https://captain.a.org",
                    "password": "{REF:P@T:Shared-Admin}",
                },
                {"title": "b", "url": "https://captain.b.org", "password": "pre-{ref:p@t:a}"},
            ],
        )
        entries = by_title(read_vault(path, PASSWORD))
        assert entries["a"].password == Secret("pw-shared")
        assert entries["b"].password == Secret("pre-pw-shared")

    def test_unresolvable_reference(self, tmp_path: Path) -> None:
        path = make_vault(
            tmp_path / "v.kdbx",
            [
                {
                    "title": "x",
                    "url": "https://captain.x.org",
                    "password": "{REF:P@I:00000000000000000000000000000000}",
                }
            ],
        )
        [entry] = read_vault(path, PASSWORD)
        assert entry.password is None
        assert entry.issues == ("its password field refers to an entry that does not exist",)

    def test_expired_flagged(self, fleet_entries: list[VaultEntry], tmp_path: Path) -> None:
        from datetime import UTC, datetime

        assert by_title(fleet_entries)["echo"].expired
        assert not by_title(fleet_entries)["alpha"].expired
        path = make_vault(
            tmp_path / "v.kdbx",
            [
                {
                    "title": "later",
                    "url": "https://captain.l.org",
                    "expired": datetime(2999, 1, 1, tzinfo=UTC),
                }
            ],
        )
        assert not read_vault(path, PASSWORD)[0].expired

    def test_totp_from_otp_uri(self, fleet_entries: list[VaultEntry]) -> None:
        totp = by_title(fleet_entries)["delta"].totp
        assert totp is not None
        assert (totp.secret.reveal(), totp.digits, totp.period, totp.algorithm) == (
            TOTP_SEED,
            8,
            60,
            "SHA256",
        )

    def test_totp_from_keepass_timeotp_fields(self, fleet_entries: list[VaultEntry]) -> None:
        totp = by_title(fleet_entries)["lima"].totp
        assert totp is not None
        assert (totp.secret.reveal(), totp.digits, totp.period, totp.algorithm) == (
            TOTP_SEED,
            8,
            45,
            "SHA512",
        )

    @pytest.mark.parametrize(
        ("field", "value", "raw"),
        [
            ("TimeOtp-Secret-Hex", "48656c6c6f21deadbeef", b"Hello!\xde\xad\xbe\xef"),
            ("TimeOtp-Secret-Base64", "SGVsbG8h3q2+7w==", b"Hello!\xde\xad\xbe\xef"),
            ("TimeOtp-Secret", "Hello!\u00e9", "Hello!\u00e9".encode()),
        ],
    )
    def test_totp_other_timeotp_encodings(
        self, tmp_path: Path, field: str, value: str, raw: bytes
    ) -> None:
        from gc_tui.core.totp import decode_base32_secret

        path = make_vault(
            tmp_path / "v.kdbx",
            [{"title": "t", "url": "https://captain.t.org", "fields": {field: value}}],
        )
        totp = read_vault(path, PASSWORD)[0].totp
        assert totp is not None
        assert decode_base32_secret(totp.secret.reveal()) == raw

    def test_bad_totp_is_an_issue_without_the_seed(self, tmp_path: Path) -> None:
        bad_seed = "NOT*BASE32*SEED111"
        path = make_vault(
            tmp_path / "v.kdbx",
            [
                {
                    "title": "a",
                    "url": "https://captain.a.org",
                    "otp": f"otpauth://totp/a?secret={bad_seed}",
                },
                {
                    "title": "b",
                    "url": "https://captain.b.org",
                    "fields": {"TimeOtp-Secret-Base32": bad_seed},
                },
            ],
        )
        for entry in read_vault(path, PASSWORD):
            assert entry.totp is None
            assert len(entry.issues) == 1 and bad_seed not in entry.issues[0]


class TestSelection:
    """Which entries become instances."""

    def names(self, entries: list[VaultEntry], **kw: Any) -> set[str]:
        return {i.name for i in select_instances(entries, **kw)}

    def test_group_is_recursive(self, fleet_entries: list[VaultEntry]) -> None:
        # juliet has no URL; hotel is in the bin; zulu is in another CapRover group.
        assert self.names(fleet_entries, group="CapRover") == {
            "alpha",
            "golf",
            "kilo",
            "lima",
            "echo",
        }

    @pytest.mark.parametrize(
        "group", ["Clients/CapRover", "/Clients/CapRover/", " Clients / CapRover "]
    )
    def test_nested_group_by_slash_path(self, fleet_entries: list[VaultEntry], group: str) -> None:
        assert self.names(fleet_entries, group=group) == {"zulu"}

    def test_subgroup_only(self, fleet_entries: list[VaultEntry]) -> None:
        assert self.names(fleet_entries, group="CapRover/Staging") == {"golf"}

    def test_tag(self, fleet_entries: list[VaultEntry]) -> None:
        assert self.names(fleet_entries, tag="prod") == {"alpha", "gitlab", "delta"}

    def test_group_and_tag_together(self, fleet_entries: list[VaultEntry]) -> None:
        assert self.names(fleet_entries, group="CapRover", tag="prod") == {"alpha"}

    def test_default_is_captain_hosts(self, fleet_entries: list[VaultEntry]) -> None:
        assert self.names(fleet_entries) == {
            "alpha",
            "golf",
            "zulu",
            "kilo",
            "delta",
            "lima",
            "echo",
        }

    def test_nothing_matched_says_what_was_searched(self, fleet_entries: list[VaultEntry]) -> None:
        with pytest.raises(VaultSelectionError) as caught:
            select_instances(fleet_entries, group="caprover")
        assert "in group 'caprover'" in str(caught.value)
        assert "did you mean 'CapRover'?" in str(caught.value)
        with pytest.raises(VaultSelectionError, match="tagged 'nope'"):
            select_instances(fleet_entries, tag="nope")
        with pytest.raises(VaultSelectionError, match="captain"):
            select_instances([e for e in fleet_entries if e.title == "gitlab"])

    @pytest.mark.parametrize("hostile", ['x" or "1"="1', "x' or '1'='1", '"]', "*", "CapRover/.."])
    def test_xpath_looking_strings_change_nothing(
        self, fleet_entries: list[VaultEntry], hostile: str
    ) -> None:
        with pytest.raises(VaultSelectionError):
            select_instances(fleet_entries, group=hostile)
        with pytest.raises(VaultSelectionError):
            select_instances(fleet_entries, tag=hostile)

    def test_xpath_looking_titles_and_groups_are_plain_names(self, tmp_path: Path) -> None:
        hostile = 'x" or "1"="1'
        path = make_vault(
            tmp_path / "v.kdbx",
            [
                {"title": hostile, "url": "https://captain.h.org", "group": hostile},
                {"title": '"]', "url": "https://captain.q.org", "group": "CapRover"},
                {"title": "other", "url": "https://captain.o.org", "group": "Other"},
            ],
        )
        entries = read_vault(path, PASSWORD)
        assert [i.name for i in select_instances(entries, group=hostile)] == [hostile]
        assert [i.name for i in select_instances(entries, group="CapRover")] == ['"]']

    def test_duplicate_titles_are_named(self, tmp_path: Path) -> None:
        path = make_vault(
            tmp_path / "v.kdbx",
            [
                {"title": "alpha", "url": "https://captain.a.org", "group": "CapRover"},
                {"title": "alpha", "url": "https://captain.b.org", "group": "CapRover/Old"},
                {"title": "beta", "url": "https://captain.c.org", "group": "CapRover"},
            ],
        )
        with pytest.raises(VaultSelectionError) as caught:
            select_instances(read_vault(path, PASSWORD), group="CapRover")
        message = str(caught.value)
        assert "duplicate titles: 'alpha'" in message
        assert "CapRover/alpha" in message and "CapRover/Old/alpha" in message
        assert_clean_error(caught.value)

    def test_bad_url_fails_the_selection_without_echoing_it(self, tmp_path: Path) -> None:
        path = make_vault(
            tmp_path / "v.kdbx",
            [
                {
                    "title": "a",
                    "url": "https://admin:S3cretInUrl@captain.a.org",
                    "group": "CapRover",
                },
                {"title": "b", "url": "ftp://captain.b.org", "group": "CapRover"},
                {"title": "", "url": "https://captain.c.org", "group": "CapRover"},
            ],
        )
        with pytest.raises(VaultSelectionError) as caught:
            select_instances(read_vault(path, PASSWORD), group="CapRover")
        message = str(caught.value)
        assert "'CapRover/a': the URL contains a user name or password" in message
        assert "'CapRover/b': the scheme 'ftp' is not http or https" in message
        assert "has no title" in message
        assert_clean_error(caught.value, "S3cretInUrl")

    def test_instances_carry_what_the_ui_needs(self, fleet_entries: list[VaultEntry]) -> None:
        instances = by_title(select_instances(fleet_entries))
        alpha: Instance = instances["alpha"]
        assert alpha.url == "https://captain.alpha.example.org"
        assert alpha.password == Secret(ENTRY_SECRET)
        assert alpha.entry_path == "CapRover/alpha"
        assert alpha.entry_uuid == by_title(fleet_entries)["alpha"].uuid
        assert alpha.warnings == () and not alpha.expired
        assert instances["golf"].url == "https://captain.golf.example.org"
        assert instances["golf"].warnings == ("the URL has no scheme: https:// assumed",)
        assert instances["zulu"].url == "https://captain.zulu.example.org:8443"
        assert instances["zulu"].warnings == ("path /some/path and query dropped from the URL",)
        assert instances["kilo"].url == "http://captain.kilo.example.org"
        assert any("http://" in w for w in instances["kilo"].warnings)

        assert (
            instances["echo"].expired
            and "the vault entry has expired" in instances["echo"].warnings
        )
        assert instances["lima"].totp is not None and instances["delta"].totp is not None

    @pytest.mark.parametrize(
        ("url", "warned"),
        [
            ("http://127.0.0.1:3000", False),
            ("http://localhost:3000", False),
            ("http://[::1]:3000", False),
            ("http://10.0.0.5:3000", True),
            ("http://captain.a.org", True),
        ],
    )
    def test_plain_http_is_only_flagged_when_it_leaves_the_machine(
        self, url: str, warned: bool
    ) -> None:
        entry = VaultEntry(
            title="a", url=url, password=Secret("pw"), username=None, tags=(),
            group_path=("CapRover",), uuid="u", expired=False, totp=None,
        )
        (instance,) = select_instances([entry], group="CapRover")
        assert any("not encrypted" in w for w in instance.warnings) is warned

    def test_same_origin_twice_is_a_warning(self, tmp_path: Path) -> None:
        path = make_vault(
            tmp_path / "v.kdbx",
            [
                {"title": "a", "url": "https://captain.a.org/", "password": "x"},
                {"title": "b", "url": "captain.a.org", "password": "y"},
            ],
        )
        instances = by_title(select_instances(read_vault(path, PASSWORD)))
        assert "same URL as b" in instances["a"].warnings
        assert "same URL as a" in instances["b"].warnings

    def test_load_instances(self, fleet_vaults: dict[str, Path]) -> None:
        instances = load_instances(
            fleet_vaults["kdbx31-aes-kdf"], PASSWORD, group="CapRover/Staging"
        )
        assert [(i.name, i.url) for i in instances] == [
            ("golf", "https://captain.golf.example.org")
        ]


class TestNormaliseUrl:
    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            ("captain.a.org", "https://captain.a.org"),
            ("  captain.a.org:3000  ", "https://captain.a.org:3000"),
            ("//captain.a.org", "https://captain.a.org"),
            ("https://captain.a.org/", "https://captain.a.org"),
            ("https://captain.a.org/#/apps", "https://captain.a.org"),
            ("HTTPS://Captain.A.Org:8443/x/y?z=1#f", "https://captain.a.org:8443"),
            ("http://captain.a.org", "http://captain.a.org"),
            ("https://captain.a.org:443/", "https://captain.a.org"),
            ("http://captain.a.org:80", "http://captain.a.org"),
            ("http://captain.a.org:443", "http://captain.a.org:443"),
            ("https://captain.a.org.", "https://captain.a.org"),
            ("https://[2001:db8::1]:3000/", "https://[2001:db8::1]:3000"),
            ("https://10.0.0.5", "https://10.0.0.5"),
            ("https://captaín.example.org", "https://xn--captan-7va.example.org"),
        ],
    )
    def test_origin(self, raw: str, expected: str) -> None:
        assert normalise_url(raw) == expected

    @pytest.mark.parametrize(
        ("raw", "reason"),
        [
            ("", "empty"),
            ("https://user:hunter2@captain.a.org", "user name or password"),
            ("https://user@captain.a.org", "user name or password"),
            ("ftp://captain.a.org", "not http or https"),
            ("javascript://alert(1)", "not http or https"),
            ("https://", "no host"),
            ("https://:443", "no host"),
            ("https://captain.a.org:99999", "port"),
            ("https://captain.a.org:abc", "port"),
            ("https://captain.a.org:0", "port"),
            ("https://capt ain.a.org", "spaces or control"),
            ("https://captain.a.org\x1b[31m", "spaces or control"),
            ("https://a..b", "cannot have"),
            ("https://cap<tain>.org", "cannot have"),
            ("https://[zz::1]", "IPv6"),
        ],
    )
    def test_refused(self, raw: str, reason: str) -> None:
        with pytest.raises(ValueError, match=reason) as caught:
            normalise_url(raw)
        assert "hunter2" not in str(caught.value)


class TestErrorMapping:
    """Every exception type pykeepass and its dependencies raise becomes one safe line."""

    @staticmethod
    def cases() -> list[tuple[BaseException, type[VaultError], str]]:
        import zlib

        import argon2.exceptions
        from construct import StreamError  # type: ignore[import-untyped]
        from lxml import etree  # type: ignore[import-untyped]
        from pykeepass.exceptions import (  # type: ignore[import-untyped]
            CredentialsError,
            HeaderChecksumError,
            PayloadChecksumError,
        )

        try:
            etree.fromstring(b"<KeePassFile><Meta>hunter2")
        except etree.XMLSyntaxError as err:
            xml_error: BaseException = err
        return [
            (CredentialsError("Invalid credentials"), VaultCredentialsError, "wrong password"),
            (HeaderChecksumError("Not a KeePass database"), VaultFormatError, "not a KeePass"),
            (HeaderChecksumError("Corrupted database"), VaultFormatError, "header is damaged"),
            (PayloadChecksumError("x"), VaultFormatError, "contents are damaged"),
            (StreamError("stream read less than specified amount"), VaultFormatError, "truncated"),
            (xml_error, VaultFormatError, "not valid KeePass XML"),
            (zlib.error("Error -3 while decompressing data"), VaultFormatError, "compressed"),
            (
                argon2.exceptions.HashingError("Salt is too short"),
                VaultFormatError,
                "Salt is too short",
            ),
            (MemoryError(), VaultError, "not enough memory"),
            (
                AttributeError("'NoneType' object has no attribute 'payload'"),
                VaultFormatError,
                "(AttributeError)",
            ),
            (
                Exception("Unsupported key derivation method hunter2"),
                VaultFormatError,
                "(Exception)",
            ),
            (AssertionError("hunter2"), VaultFormatError, "(AssertionError)"),
        ]

    def test_mapping(self) -> None:
        for exc, expected, fragment in self.cases():
            mapped = vault_file._map_open_error(exc, "fleet.kdbx")
            assert type(mapped) is expected, exc
            assert str(mapped).startswith("fleet.kdbx: ") and fragment in str(mapped)
            assert_clean_error(mapped, "hunter2")
