"""The targets file round-trips, refuses mistakes by file and key, and pins from an instance."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import ClassVar

import pytest

from gc_tui.core.model import AppInfo, Instance, InstanceAudit, InstanceStatus
from gc_tui.core.targets import (
    DEFAULT_HOLD,
    PinChange,
    PinError,
    Targets,
    TargetsError,
    is_held,
    load_targets,
    pin_from_instance,
    plan_pin,
    save_targets,
    targets_from_mapping,
)

EXPLORER = "communityfirst/guardianconnector-explorer:20260731-948"
EXPLORER_OLD = "communityfirst/guardianconnector-explorer:20260727-932"
SUPERSET = "communityfirst/superset-deployment:6.1.0_20260803-1652"
SUPERSET_NEW = "communityfirst/superset-deployment:6.1.0_20260820-0900"
LANDING = "communityfirst/guardianconnector-landing-page:20260728-165"

EXAMPLE = f"""
[targets]
explorer = "{EXPLORER}"
superset = "{SUPERSET}"

[groups]
reports = ["reports", "reports-cron"]

[hold]
repositories = ["postgres", "ghcr.io/acme/keydb"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "targets.toml"
    path.write_text(text)
    return path


class TestLoad:
    """A valid file becomes Targets with exactly what it says; a missing [hold] holds Postgres."""

    def test_example(self, tmp_path: Path) -> None:
        path = write(tmp_path, EXAMPLE)
        targets = load_targets(path)
        assert dict(targets.images) == {"explorer": EXPLORER, "superset": SUPERSET}
        assert dict(targets.groups) == {"reports": ("reports", "reports-cron")}
        assert targets.hold_repositories == ("postgres", "ghcr.io/acme/keydb")
        assert targets.path == path

    def test_hold_defaults_to_postgres(self, tmp_path: Path) -> None:
        targets = load_targets(write(tmp_path, f'[targets]\nexplorer = "{EXPLORER}"\n'))
        assert targets.hold_repositories == DEFAULT_HOLD == ("postgres",)
        assert dict(targets.groups) == {}

    def test_an_empty_hold_list_holds_nothing(self, tmp_path: Path) -> None:
        targets = load_targets(write(tmp_path, "[hold]\nrepositories = []\n"))
        assert targets.hold_repositories == ()

    def test_an_empty_file_has_no_targets(self, tmp_path: Path) -> None:
        assert dict(load_targets(write(tmp_path, "")).images) == {}

    def test_targets_cannot_be_changed_after_loading(self, tmp_path: Path) -> None:
        targets = load_targets(write(tmp_path, EXAMPLE))
        with pytest.raises(TypeError):
            targets.images["explorer"] = EXPLORER_OLD  # type: ignore[index]


class TestLoadErrorsNameFileAndKey:
    """Every refusal is a TargetsError whose message names the file, the key and the problem."""

    @pytest.mark.parametrize(
        ("text", "key", "problem"),
        [
            (f'[target]\nexplorer = "{EXPLORER}"\n', "[target]", "unknown table"),
            ('[holds]\nrepositories = ["postgres"]\n', "[holds]", "unknown table"),
            ('[hold]\nrepository = ["postgres"]\n', "[hold] repository", "unknown key"),
            ('[hold]\nrepositories = "postgres"\n', "[hold] repositories", "expected a list"),
            ("[hold]\nrepositories = [17]\n", "[hold] repositories", "expected repository names"),
            ('[hold]\nrepositories = ["postgres:17"]\n', "[hold] repositories", "names a tag"),
            ('[hold]\nrepositories = ["Postgres"]\n', "[hold] repositories", "must be lower-case"),
            ("[targets]\nexplorer = 948\n", "[targets] explorer", "expected an image name"),
            (
                "[targets]\n"
                'gc-landing-page = "communityfirst/guardianconnector-landing-page:20260219-85:q"\n',
                "[targets] gc-landing-page",
                "more than one ':'",
            ),
            ('[targets]\nexplorer = "repo:"\n', "[targets] explorer", "tag after ':' is empty"),
            (
                '[targets]\nsuperset-worker = "img-captain-superset-worker:0"\n',
                "[targets] superset-worker",
                "server build",
            ),
            (f'[targets]\nExplorer = "{EXPLORER}"\n', "[targets] 'Explorer'", "app name"),
            ('[groups]\nreports = "reports"\n', "[groups] reports", "expected a list of app names"),
            ('[groups]\nreports = ["reports"]\n', "[groups] reports", "at least two"),
            ('[groups]\nreports = ["a", "a"]\n', "[groups] reports", "listed twice"),
            ('targets = "x"\n', "targets", "expected a table"),
            (
                '[upstream."postgres"]\ninclude = "^17("\n',
                '[upstream."postgres"] include',
                "not a regular expression",
            ),
            (
                '[upstream."postgres"]\nincludes = "^17"\n',
                '[upstream."postgres"] includes',
                "unknown key",
            ),
            (
                '[upstream."postgres"]\ninclude = 17\n',
                '[upstream."postgres"] include',
                "expected a regular expression",
            ),
            (
                '[upstream."postgres:17"]\ninclude = "^17"\n',
                '[upstream."postgres:17"]',
                "names a tag",
            ),
            ('[upstream]\npostgres = "^17"\n', '[upstream."postgres"]', "expected a table"),
            (
                '[upstream."postgres"]\ninclude = "^17"\n'
                '[upstream."docker.io/library/postgres"]\nexclude = "rc"\n',
                '[upstream."docker.io/library/postgres"]',
                'the same repository as [upstream."postgres"]',
            ),
        ],
    )
    def test_error(self, tmp_path: Path, text: str, key: str, problem: str) -> None:
        path = write(tmp_path, text)
        with pytest.raises(TargetsError) as caught:
            load_targets(path)
        message = str(caught.value)
        assert str(path) in message
        assert key in message
        assert problem in message

    def test_syntax_error_gives_the_line(self, tmp_path: Path) -> None:
        path = write(tmp_path, f'[targets]\nexplorer = "{EXPLORER}"\nsuperset = \n')
        with pytest.raises(TargetsError, match=r"TOML syntax error.*line 3") as caught:
            load_targets(path)
        assert str(path) in str(caught.value)

    def test_missing_file(self, tmp_path: Path) -> None:
        path = tmp_path / "nope.toml"
        with pytest.raises(TargetsError, match="cannot read") as caught:
            load_targets(path)
        assert str(path) in str(caught.value)

    def test_not_utf8(self, tmp_path: Path) -> None:
        path = tmp_path / "targets.toml"
        path.write_bytes(b'[targets]\nexplorer = "\xff"\n')
        with pytest.raises(TargetsError, match="UTF-8"):
            load_targets(path)


class TestSave:
    """Saving writes a private file that loads back to the same Targets, replacing atomically."""

    def test_round_trip(self, tmp_path: Path) -> None:
        original = load_targets(write(tmp_path, EXAMPLE))
        copy_path = tmp_path / "copy.toml"
        save_targets(copy_path, original)
        copy = load_targets(copy_path)
        assert (copy.images, copy.groups, copy.hold_repositories) == (
            original.images,
            original.groups,
            original.hold_repositories,
        )

    def test_an_empty_hold_survives_the_round_trip(self, tmp_path: Path) -> None:
        path = tmp_path / "t.toml"
        save_targets(path, Targets(images={"explorer": EXPLORER}, hold_repositories=()))
        assert load_targets(path).hold_repositories == ()

    def test_mode_is_0600_and_no_temp_file_is_left(self, tmp_path: Path) -> None:
        path = tmp_path / "t.toml"
        path.write_text("old")
        path.chmod(0o644)
        save_targets(path, targets_from_mapping({"explorer": EXPLORER}))
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert [p.name for p in tmp_path.iterdir()] == ["t.toml"]

    def test_a_failed_write_keeps_the_old_file(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        path = write(tmp_path, EXAMPLE)

        def broken_replace(src: str, dst: str) -> None:
            raise OSError("disk full")

        monkeypatch.setattr("gc_tui.core.targets.os.replace", broken_replace)
        with pytest.raises(OSError):
            save_targets(path, targets_from_mapping({"explorer": EXPLORER_OLD}))
        assert path.read_text() == EXAMPLE
        assert [p.name for p in tmp_path.iterdir()] == ["targets.toml"]


class TestMappingValidation:
    """Targets built from data are checked like a file (the demo's target_images come this way)."""

    def test_invalid_image_is_refused_naming_the_key(self) -> None:
        with pytest.raises(
            TargetsError, match=r"<targets>: \[targets\] explorer: .*more than one ':'"
        ):
            targets_from_mapping({"explorer": "repo:20260219-85:q"})


class TestIsHeld:
    """Any spelling of a held repository is held; other repositories are not."""

    @pytest.mark.parametrize(
        ("image", "held"),
        [
            ("postgres:17", True),
            ("postgres", True),
            ("library/postgres:16", True),
            ("docker.io/library/postgres:17-alpine", True),
            ("postgis/postgis:16-3.4", False),
            ("ghcr.io/library/postgres:17", False),
            ("redis:7.2.4", False),
            ("not valid:", False),
        ],
    )
    def test_held(self, image: str, held: bool) -> None:
        assert is_held(image, DEFAULT_HOLD) is held

    def test_nothing_is_held_with_an_empty_list(self) -> None:
        assert not is_held("postgres:17", ())


def audit_of(
    apps: list[tuple[str, str | None]], status: InstanceStatus = InstanceStatus.OK
) -> InstanceAudit:
    return InstanceAudit(
        instance=Instance(name="staging", url="https://captain.staging.example.org"),
        status=status,
        apps=tuple(
            AppInfo(name=name, deployed_version=1, image=image, deployed_at=None)
            for name, image in apps
        ),
    )


class TestPin:
    """Pinning takes what an instance runs as the targets of its managed apps, keeping the rest."""

    TARGETS = targets_from_mapping(
        {"explorer": EXPLORER_OLD, "superset": SUPERSET, "gc-landing-page": LANDING},
        groups={"reports": ["reports", "reports-cron"]},
    )
    STAGING: ClassVar[list[tuple[str, str | None]]] = [
        ("postgres", "postgres:17"),
        ("explorer", EXPLORER),
        ("superset", SUPERSET_NEW),
        ("superset-worker", "img-captain-superset-worker:0"),
        ("files", "filebrowser/filebrowser:v2"),
        ("wildlife", "registry.example.org/cmi/gc-wildlife-viewer:1.2.0"),
        ("broken", None),
    ]

    def test_changes_are_reported_and_applied(self) -> None:
        report = plan_pin(self.TARGETS, audit_of(self.STAGING))
        assert report.changes == (
            PinChange(app="explorer", old=EXPLORER_OLD, new=EXPLORER),
            PinChange(app="superset", old=SUPERSET, new=SUPERSET_NEW),
        )
        assert dict(report.targets.images) == {
            "explorer": EXPLORER,
            "superset": SUPERSET_NEW,
            "gc-landing-page": LANDING,  # not on the instance: kept
        }
        assert report.targets.groups == self.TARGETS.groups
        assert pin_from_instance(self.TARGETS, audit_of(self.STAGING)) == report.targets

    @pytest.mark.parametrize(
        ("app_name", "reason"),
        [
            ("postgres", "held"),
            ("superset-worker", "server build"),
            ("files", "floating tag v2"),
            ("wildlife", "no target yet"),
            ("broken", "no deployed image"),
        ],
    )
    def test_skipped_with_a_reason(self, app_name: str, reason: str) -> None:
        report = plan_pin(self.TARGETS, audit_of(self.STAGING))
        skipped = {skip.app: skip.reason for skip in report.skipped}
        assert reason in skipped[app_name]
        assert app_name not in report.targets.images

    def test_unmanaged_apps_join_when_asked(self) -> None:
        report = plan_pin(self.TARGETS, audit_of(self.STAGING), include_unmanaged=True)
        assert (
            report.targets.images["wildlife"] == "registry.example.org/cmi/gc-wildlife-viewer:1.2.0"
        )
        assert (
            PinChange(
                app="wildlife", old=None, new="registry.example.org/cmi/gc-wildlife-viewer:1.2.0"
            )
            in report.changes
        )
        assert "files" not in report.targets.images

    def test_an_instance_already_on_target_changes_nothing(self) -> None:
        report = plan_pin(self.TARGETS, audit_of([("superset", SUPERSET)]))
        assert report.changes == ()
        assert report.targets == self.TARGETS

    @pytest.mark.parametrize("status", [InstanceStatus.UNREACHABLE, InstanceStatus.AUTH_FAILED])
    def test_an_instance_that_did_not_answer_cannot_be_pinned_from(
        self, status: InstanceStatus
    ) -> None:
        with pytest.raises(PinError, match=f"staging.*{status.value}"):
            plan_pin(self.TARGETS, audit_of([], status))


class TestUpstreamFilters:
    """``[upstream."REPO"]`` narrows which tags count as newest; any spelling finds it."""

    def test_read_found_and_written_back(self, tmp_path: Path) -> None:
        path = write(
            tmp_path,
            f'[targets]\nexplorer = "{EXPLORER}"\n'
            '[upstream."postgres"]\ninclude = "^17(\\\\.\\\\d+)?$"\n'
            '[upstream."ghcr.io/windmill-labs/windmill"]\nexclude = "-rc"\n',
        )
        targets = load_targets(path)
        assert targets.tag_filter_for("docker.io/library/postgres").include == r"^17(\.\d+)?$"
        assert targets.tag_filter_for("postgres:16").admits("17.6")
        assert not targets.tag_filter_for("postgres").admits("16.10")
        assert targets.tag_filter_for("ghcr.io/windmill-labs/windmill").exclude == "-rc"
        assert targets.tag_filter_for("redis").admits("anything")
        save_targets(path, targets)
        assert load_targets(path) == targets
