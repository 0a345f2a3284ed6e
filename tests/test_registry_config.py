"""Where a repository is asked for, and the config's ``[registries."HOST"]`` tables."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from gc_tui.core.images import InvalidImage
from gc_tui.core.registry_config import (
    RegistryConfigError,
    RegistryCredentials,
    RegistrySettings,
    mirrors,
    parse_registries,
    registry_credentials,
)
from gc_tui.core.registry_ref import is_loopback_host, locate
from gc_tui.core.secret import Secret
from gc_tui.core.vault.kdbx import VaultEntry

PATH = Path("/home/op/.config/gc-tui/config.toml")


class TestLocate:
    """A name without a host is Docker Hub's; its API is registry-1.docker.io; ``library/``
    for official images; a first component with '.', ':' or ``localhost`` is a host."""

    @pytest.mark.parametrize(
        ("reference", "origin", "path"),
        [
            ("postgres", "https://registry-1.docker.io", "library/postgres"),
            ("postgres:17", "https://registry-1.docker.io", "library/postgres"),
            ("docker.io/library/postgres", "https://registry-1.docker.io", "library/postgres"),
            (
                "index.docker.io/communityfirst/x:1",
                "https://registry-1.docker.io",
                "communityfirst/x",
            ),
            (
                "communityfirst/gc-comapeo-cloud:0.4.0",
                "https://registry-1.docker.io",
                "communityfirst/gc-comapeo-cloud",
            ),
            ("ghcr.io/windmill-labs/windmill:1.775.2", "https://ghcr.io", "windmill-labs/windmill"),
            (
                "registry.example.org/cmi/superset-docker",
                "https://registry.example.org",
                "cmi/superset-docker",
            ),
            ("localhost/team/app", "http://localhost", "team/app"),
            ("localhost:5000/team/app", "http://localhost:5000", "team/app"),
            ("127.0.0.1:5000/app", "http://127.0.0.1:5000", "app"),
            ("[::1]:5000/app", "http://[::1]:5000", "app"),
            ("10.0.0.5:5000/app", "https://10.0.0.5:5000", "app"),  # not loopback: HTTPS
        ],
    )
    def test_location(self, reference: str, origin: str, path: str) -> None:
        location = locate(reference)
        assert (location.origin, location.path) == (origin, path)
        assert location.pull_scope == f"repository:{path}:pull"

    def test_a_mirror_takes_its_host_traffic(self) -> None:
        routes = {"docker.io": "http://127.0.0.1:5001", "ghcr.io": "https://mirror.example.org"}
        assert locate("postgres", routes).origin == "http://127.0.0.1:5001"
        assert locate("index.docker.io/library/postgres", routes).origin == "http://127.0.0.1:5001"
        assert locate("ghcr.io/a/b", routes).url("tags/list") == (
            "https://mirror.example.org/v2/a/b/tags/list"
        )
        assert locate("quay.io/a/b", routes).origin == "https://quay.io"

    def test_a_bad_reference(self) -> None:
        with pytest.raises(InvalidImage):
            locate("Communityfirst/Explorer")

    @pytest.mark.parametrize(
        ("host", "loopback"),
        [
            ("localhost", True),
            ("localhost:5000", True),
            ("127.0.0.2:80", True),
            ("[::1]:5000", True),
            ("::1", True),
            ("ghcr.io", False),
            ("10.0.0.1:5000", False),
        ],
    )
    def test_loopback(self, host: str, loopback: bool) -> None:
        assert is_loopback_host(host) is loopback


def parse(text: str) -> dict[str, RegistrySettings]:
    return parse_registries(tomllib.loads(text)["registries"], PATH)


class TestRegistriesTable:
    """Strict, as the rest of the config: every refusal names the file and the key."""

    def test_url_and_vault_entry(self) -> None:
        settings = parse(
            '[registries."index.docker.io"]\nurl = "https://mirror.example.org/"\n'
            '[registries."registry.example.org"]\nvault_entry = "Registries/cmi"\n'
        )
        assert settings == {
            "docker.io": RegistrySettings("docker.io", url="https://mirror.example.org"),
            "registry.example.org": RegistrySettings(
                "registry.example.org", vault_entry="Registries/cmi"
            ),
        }
        assert mirrors(settings) == {"docker.io": "https://mirror.example.org"}

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            (
                '[registries."ghcr.io"]\nmirror = "https://m.example.org"\n',
                "unknown key 'registries.\"ghcr.io\".mirror' (known: url, vault_entry)",
            ),
            ('[registries."ghcr.io"]\npassword = "hunter2"\n', "secrets belong in the vault"),
            (
                '[registries."ghcr.io"]\nurl = "https://robot:hunter2@m.example.org"\n',
                "secrets belong in the vault",
            ),
            ('[registries."ghcr.io"]\nurl = "http://mirror.example.org"\n', "must use https"),
            ('[registries."ghcr.io"]\nurl = "https://m.example.org/v2/"\n', "no path"),
            ('[registries."ghcr.io"]\nurl = "ftp://m.example.org"\n', "http(s) URL"),
            ('[registries."ghcr.io"]\nurl = 5\n', "must be a non-empty string, not 5"),
            (
                '[registries."https://ghcr.io"]\nurl = "https://m.example.org"\n',
                "not a registry host",
            ),
            (
                '[registries."docker.io"]\nurl = "https://a.example.org"\n'
                '[registries."registry-1.docker.io"]\nurl = "https://b.example.org"\n',
                "the same registry as another table",
            ),
            (
                '[registries]\n"ghcr.io" = "https://m.example.org"\n',
                'registries."ghcr.io" must be a table',
            ),
        ],
    )
    def test_refused(self, text: str, message: str) -> None:
        with pytest.raises(RegistryConfigError) as caught:
            parse(text)
        assert str(caught.value).startswith(f"{PATH}: ")
        assert message in str(caught.value)
        assert "hunter2" not in str(caught.value)

    def test_http_to_loopback_is_allowed(self) -> None:
        assert (
            parse('[registries."docker.io"]\nurl = "http://127.0.0.1:5000"\n')["docker.io"].url
            == "http://127.0.0.1:5000"
        )

    def test_not_a_table(self) -> None:
        with pytest.raises(RegistryConfigError, match=r"registries must be a table"):
            parse_registries(["ghcr.io"], PATH)


def entry(
    title: str, group: tuple[str, ...], username: str | None, password: str | None
) -> VaultEntry:
    return VaultEntry(
        title=title,
        url=None,
        password=Secret(password) if password is not None else None,
        username=username,
        tags=(),
        group_path=group,
        uuid=title,
        expired=False,
        totp=None,
    )


class TestCredentials:
    """A vault_entry is found by path or unique title; errors never show the password."""

    ENTRIES = (
        entry("cmi", ("Registries",), "robot", "s3cret-Pw"),
        entry("ghcr", ("Registries",), "someone", "ghp_token"),
        entry("ghcr", ("Old",), "someone", "old"),
        entry("nopass", ("Registries",), "robot", None),
    )

    def settings(self, name: str) -> dict[str, RegistrySettings]:
        return {"registry.example.org": RegistrySettings("registry.example.org", vault_entry=name)}

    @pytest.mark.parametrize("name", ["Registries/cmi", "cmi"])
    def test_found(self, name: str) -> None:
        found = registry_credentials(self.settings(name), self.ENTRIES, PATH)
        assert found == {"registry.example.org": RegistryCredentials("robot", Secret("s3cret-Pw"))}
        assert "s3cret" not in repr(found)

    def test_a_path_settles_a_shared_title(self) -> None:
        found = registry_credentials(self.settings("Registries/ghcr"), self.ENTRIES, PATH)
        assert found["registry.example.org"].password.reveal() == "ghp_token"

    @pytest.mark.parametrize(
        ("name", "message"),
        [
            ("ghcr", "more than one vault entry is called 'ghcr'"),
            ("absent", "no vault entry called 'absent'"),
            ("nopass", "needs both a username and a password"),
        ],
    )
    def test_refused(self, name: str, message: str) -> None:
        with pytest.raises(RegistryConfigError) as caught:
            registry_credentials(self.settings(name), self.ENTRIES, PATH)
        assert message in str(caught.value)
        assert 'registries."registry.example.org".vault_entry' in str(caught.value)
        assert "ghp_token" not in str(caught.value)
