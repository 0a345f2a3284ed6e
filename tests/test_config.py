"""The config file is strict: a typo is an error naming the file and the key, never a default."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import trustme

from gc_tui.cli import run
from gc_tui.config import ConfigError, load_config
from gc_tui.core.model import Instance
from gc_tui.demo.fleet import FakeFleetThread
from tests.fakefleet import fake_instance
from tests.vaults import make_vault


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


class TestStrict:
    @pytest.mark.parametrize(
        ("text", "words"),
        [
            ("vualt = 'x.kdbx'", "unknown key 'vualt'"),
            ("concurrency = 0", "concurrency must be a whole number"),
            ("read_only = 'no'", "read_only must be true or false"),
            ("[timeouts]\nconect = 3", "unknown key 'timeouts.conect'"),
            ("[instances.acme]\ninsecure = 'yes'", "instances.acme.insecure must be true or false"),
            ("[instances.acme]\npassword = 'hunter2'", "secrets belong in the vault"),
            ("password = 'hunter2'", "secrets belong in the vault"),
            ("vault = ", "not valid TOML"),
        ],
    )
    def test_errors_name_the_file_and_the_key(self, tmp_path: Path, text: str, words: str) -> None:
        path = write(tmp_path, text)
        with pytest.raises(ConfigError) as caught:
            load_config(path)
        assert str(path) in str(caught.value) and words in str(caught.value)
        assert "hunter2" not in str(caught.value)

    def test_values_and_per_instance_settings(self, tmp_path: Path) -> None:
        path = write(
            tmp_path,
            "vault = 'fleet.kdbx'\ngroup = 'CapRover'\nconcurrency = 5\n"
            "[timeouts]\nconnect = 3\nrequest = 9.5\n"
            "[instances.acme]\ninsecure = true\nread_only = true\n",
        )
        config = load_config(path)
        assert config.vault == tmp_path / "fleet.kdbx"  # relative to the config file
        assert config.concurrency == 5
        assert config.client.connect_timeout == 3 and config.client.request_deadline == 9.5
        (acme, other) = config.apply_to([Instance("acme", "https://a"), Instance("other", "https://b")])
        assert acme.insecure and acme.read_only
        assert not other.insecure and not other.read_only

    def test_a_file_gc_tui_config_names_must_exist(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # Review (helper): a typo in $GC_TUI_CONFIG (in a cron job, say) silently meant the
        # defaults, read_only = true included; --config already refused a missing file.
        monkeypatch.setenv("GC_TUI_CONFIG", str(tmp_path / "nope.toml"))
        with pytest.raises(ConfigError, match=r"nope\.toml: no such config file"):
            load_config()

    def test_a_missing_default_file_means_defaults(self) -> None:
        assert load_config().concurrency == 256

    @pytest.mark.parametrize(
        ("text", "words"),
        [
            ("proxy = 'socks5://127.0.0.1:1080'", "proxy must be a proxy URL"),
            ("proxy = 'http://'", "proxy must be a proxy URL"),
            ("[instances.acme]\nproxy = 3128", "instances.acme.proxy must be a proxy URL"),
            ("[instances.acme]\nallow_plain_http = 'yes'",
             "instances.acme.allow_plain_http must be true or false"),
        ],
    )
    def test_network_keys_are_checked(self, tmp_path: Path, text: str, words: str) -> None:
        path = write(tmp_path, text)
        with pytest.raises(ConfigError, match=words):
            load_config(path)

    def test_a_proxy_password_is_refused_and_never_echoed(self, tmp_path: Path) -> None:
        path = write(tmp_path, "proxy = 'http://ops:hunter2@proxy.example:3128'")
        with pytest.raises(ConfigError) as caught:
            load_config(path)
        assert "proxy user or password does not belong in the config file" in str(caught.value)
        assert "hunter2" not in str(caught.value)


@pytest.fixture(scope="module")
def ca_pem(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ca") / "fleet-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(path))
    return path


class TestCaFiles:
    """A CA file is read when the config loads: a bad one stops the command (exit 2) with
    the config file, the instance and the CA file named, before anything is audited."""

    @pytest.mark.parametrize(
        ("content", "problem"),
        [(None, "no such file"), (b"not a certificate", "no PEM certificate in it")],
        ids=["missing", "not-pem"],
    )
    @pytest.mark.parametrize("section", ["", "[instances.acme]\n"], ids=["global", "instance"])
    def test_a_bad_ca_file_is_a_config_error(
        self, tmp_path: Path, content: bytes | None, problem: str, section: str
    ) -> None:
        ca_file = tmp_path / "acme-ca.pem"
        if content is not None:
            ca_file.write_bytes(content)
        path = write(tmp_path, f"{section}ca_file = 'acme-ca.pem'\n")
        with pytest.raises(ConfigError) as caught:
            load_config(path)
        key = "instances.acme.ca_file" if section else "ca_file"
        assert str(caught.value) == (
            f"{path}: {key}: the CA file {ca_file} cannot be used: {problem}"
        )

    def test_the_command_stops_with_exit_2(self, tmp_path: Path) -> None:
        path = write(tmp_path, "vault = 'v.kdbx'\n[instances.acme]\nca_file = 'gone.pem'\n")
        err = io.StringIO()
        code = run(["audit", "--config", str(path), "--password-stdin"],
                   stdin=io.StringIO("pw\n"), stdout=io.StringIO(), stderr=err)
        assert code == 2
        assert "instances.acme.ca_file" in err.getvalue() and "gone.pem" in err.getvalue()


class TestApplied:
    def test_an_instance_section_wins_over_the_global_keys(
        self, tmp_path: Path, ca_pem: Path
    ) -> None:
        other_ca = tmp_path / "other.pem"
        other_ca.write_bytes(ca_pem.read_bytes())
        path = write(
            tmp_path,
            f"proxy = 'http://proxy.example:3128'\nca_file = '{ca_pem}'\n"
            "[instances.acme]\nproxy = 'http://acme-proxy.example:8080'\n"
            "ca_file = 'other.pem'\nallow_plain_http = true\n",
        )
        acme, other = load_config(path).apply_to(
            [Instance("acme", "http://a"), Instance("other", "https://b")]
        )
        assert (acme.proxy, acme.ca_file, acme.allow_plain_http) == (
            "http://acme-proxy.example:8080", other_ca, True
        )
        assert (other.proxy, other.ca_file, other.allow_plain_http) == (
            "http://proxy.example:3128", ca_pem, False
        )

    def test_sections_matching_no_vault_entry_are_named(self, tmp_path: Path) -> None:
        path = write(tmp_path, "[instances.acme]\nread_only = true\n"
                               "[instances.'Acme Prod']\nread_only = true\n")
        config = load_config(path)
        warnings = config.unmatched_sections([Instance("acme", "https://a"),
                                              Instance("acme prod", "https://b")])
        assert warnings == [
            f"{path}: [instances.\"Acme Prod\"] matches no vault entry (titles must match exactly, "
            "case and spaces included); its settings apply to nothing"
        ]


def test_flags_win_over_the_file(tmp_path: Path) -> None:
    """The config names one group; --group on the command line picks another."""
    fake = fake_instance("acme", "acme-pw")
    with FakeFleetThread([fake]) as fleet:
        vault = make_vault(
            tmp_path / "v.kdbx",
            [
                {"title": "acme", "url": fleet.url("acme"), "password": "acme-pw", "group": "Prod"},
                {"title": "other", "url": fleet.url("acme"), "password": "x", "group": "Staging"},
            ],
            password="pw",
        )
        config = write(tmp_path, f"vault = '{vault}'\ngroup = 'Staging'\n")
        out = io.StringIO()
        code = run(
            ["audit", "--config", str(config), "--group", "Prod", "--format", "json",
             "--password-stdin"],
            stdin=io.StringIO("pw\n"),
            stdout=out,
            stderr=io.StringIO(),
        )
    assert code == 0
    assert [i["name"] for i in json.loads(out.getvalue())["instances"]] == ["acme"]
