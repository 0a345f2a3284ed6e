"""The config file is strict: a typo is an error naming the file and the key, never a default."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from fakefleet import fake_instance
from vaults import make_vault

from gc_tui.cli import run
from gc_tui.config import ConfigError, load_config
from gc_tui.core.model import Instance
from gc_tui.demo.fleet import FakeFleetThread


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

    def test_a_missing_default_file_means_defaults(self) -> None:
        assert load_config().concurrency == 256


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
            ["audit", "--config", str(config), "--group", "Prod", "--format", "json", "--password-stdin"],
            stdin=io.StringIO("pw\n"),
            stdout=out,
            stderr=io.StringIO(),
        )
    assert code == 0
    assert [i["name"] for i in json.loads(out.getvalue())["instances"]] == ["acme"]
