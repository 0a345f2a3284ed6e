"""The deploy dialog guesses the repository only when most marked rows agree on one."""

from __future__ import annotations

import pytest

from gc_tui.core.model import AppInfo, InstanceStatus
from gc_tui.tui.fleet_rows import FleetRow, RowKind
from gc_tui.tui.screens.deploy import prefill_image

NEW = "communityfirst/superset-deployment"


def row(instance: str, image: str) -> FleetRow:
    app = AppInfo("superset", 1, image, None)
    return FleetRow(f"{instance}/superset", RowKind.APP, instance, InstanceStatus.OK, app=app)


@pytest.mark.parametrize(
    ("images", "expected"),
    [
        ([f"{NEW}:6.1.0_1", f"{NEW}:6.0.0_1"], f"{NEW}:"),
        # a straggler on a legacy registry, and a server build that says nothing
        ([f"{NEW}:6.1.0_1", f"{NEW}:6.0.0_1", "registry.example.org/cmi/superset-docker:4.1.2",
          "img-captain-superset:3"], f"{NEW}:"),
        ([f"{NEW}:6.1.0_1", "registry.example.org/cmi/superset-docker:4.1.2"], ""),
        (["img-captain-superset:3"], ""),
    ],
)
def test_prefill(images: list[str], expected: str) -> None:
    rows = [row(f"i{n}", image) for n, image in enumerate(images)]
    assert prefill_image(rows) == expected


def test_the_image_of_a_failed_deploy_is_offered_again_but_not_of_a_done_one() -> None:
    # R marks the failed rows so d retries them; a deploy that ended done says nothing of
    # what to deploy next, and offering it again could go back to an older image.
    from dataclasses import replace

    from gc_tui.core.engine import RowState
    from gc_tui.tui.fleet_rows import DeployStatus

    tried = f"{NEW}:6.1.0_2"
    failed = [replace(row(f"i{n}", f"{NEW}:6.1.0_1"),
                      deploy=DeployStatus(RowState.FAILED, 1.0, 2.0, tried)) for n in range(2)]
    assert prefill_image(failed) == tried
    done = [replace(r, deploy=replace(r.deploy, state=RowState.DONE)) for r in failed
            if r.deploy is not None]
    assert prefill_image(done) == f"{NEW}:"


def test_the_plan_shows_the_digest_a_reference_pins() -> None:
    # Review (helper): 'repo:0.4.0@sha256:...' showed as '0.3.0 → 0.4.0', but Docker pulls
    # by the digest whatever the tag says: the row must name it.
    from gc_tui.tui.screens.deploy import change_text

    digest = "sha256:" + "1a2b3c4d5e6f" + "0" * 52
    text = change_text(f"{NEW}:0.3.0", f"{NEW}:0.4.0@{digest}").plain
    assert text == "0.3.0 → 0.4.0@sha256:1a2b3c4d5e6f…"
    assert change_text(f"{NEW}:0.3.0", f"{NEW}:0.4.0").plain == "0.3.0 → 0.4.0"
