"""The upgrade note (core/upgrade_note.py, ``gc-tui log --format markdown``): what a run
changed, grouped by app then by instance, with what was skipped or failed and why; no secret,
no server URL, and journal text never read as Markdown."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from gc_tui.cli import run
from gc_tui.core.journal import Journal, JournalRun, default_journal_path, read_journal
from gc_tui.core.plan import EVERY_APP
from gc_tui.core.upgrade_note import plain, upgrade_note

EXPLORER = "communityfirst/guardianconnector-explorer"
SUPERSET = "communityfirst/superset-deployment"
HOSTILE = ("build failed at https://admin:hunter2@captain.delta.example.org/api "
           "*boom* <b>|x|</b> [link](http://evil) \x1b[31mred\x1b[0m")


def _row(instance: str, app: str, old: str, new: str) -> dict[str, object]:
    return {"instance": instance, "app": app, "from_image": old, "to_image": new,
            "url": f"https://captain.{instance}.example.org", "group": None}


def write_run(journal: Journal) -> None:
    """One monthly run as the engine journals it: plan, transitions, a split group."""
    planned = [
        _row("acme", "explorer", f"{EXPLORER}:20260716-901", f"{EXPLORER}:20260731-948"),
        _row("bravo", "explorer", f"{EXPLORER}:20260716-901", f"{EXPLORER}:20260731-948"),
        _row("charlie", "explorer", f"{EXPLORER}:latest", f"{EXPLORER}:20260731-948"),
        _row("delta", "explorer", f"{EXPLORER}:20260716-901", f"{EXPLORER}:20260731-948"),
        _row("acme", "superset", f"{SUPERSET}:6.0.0_20260303-0213",
             f"{SUPERSET}:6.1.0_20260803-1652"),
        _row("echo", "superset", "registry.example.org/cmi/superset-docker:4.1.2_20250519-1315",
             f"{SUPERSET}:6.1.0_20260803-1652"),
        _row("foxtrot", "wildlife", "cmi/wildlife:1", "cmi/wildlife:2"),
    ]
    skipped = [
        {**_row("golf", "explorer", f"{EXPLORER}:20260731-948", f"{EXPLORER}:20260731-948"),
         "reason": "already on the target image"},
        {**_row("acme", "superset-worker", "img-captain-superset-worker:2",
                f"{SUPERSET}:6.1.0_20260803-1652"),
         "reason": "server build (img-captain-...): needs a human"},
        {**_row("bravo", "superset-worker", "img-captain-superset-worker:0",
                f"{SUPERSET}:6.1.0_20260803-1652"),
         "reason": "server build (img-captain-...): needs a human"},
    ]
    journal.append({"type": "run", "run": "r1", "action": "deploy", "user": "operator-name",
                    "rows": planned, "skipped": skipped})
    ends = {("acme", "explorer"): "done", ("bravo", "explorer"): "done",
            ("charlie", "explorer"): "done", ("acme", "superset"): "done",
            ("echo", "superset"): "done", ("delta", "explorer"): "failed",
            ("foxtrot", "wildlife"): "sending"}
    for (instance, app), state in ends.items():
        record: dict[str, object] = {"type": "row", "run": "r1", "instance": instance,
                                     "app": app, "state": state}
        if state == "failed":
            record["error"] = HOSTILE
        journal.append(record)
    journal.append({"type": "split", "run": "r1", "instance": "acme", "group": "superset",
                    "message": "group superset on acme is split: 1 done, 1 cancelled"})


@pytest.fixture
def monthly_run(tmp_path: Path) -> JournalRun:
    journal = Journal(tmp_path / "deploys.jsonl")
    write_run(journal)
    (found,) = read_journal(journal.path).runs
    return found


class TestWhatTheNoteSays:
    """A reader sees each app's moves and the instances they reached, in the stack's order."""

    def test_by_app_then_by_instance(self, monthly_run: JournalRun) -> None:
        note = upgrade_note(monthly_run)
        date = monthly_run.started_at.partition("T")[0]
        assert note.startswith(f"# Upgrade of {date}\n")
        headings = [line for line in note.splitlines() if line.startswith("## ")]
        assert headings == ["## superset", "## superset-worker", "## explorer", "## wildlife"]
        explorer = note.split("## explorer\n")[1].split("##")[0]
        assert "- `20260716-901` → `20260731-948` on 2 instances: acme, bravo" in explorer
        assert "- `latest` → `20260731-948` on 1 instance: charlie" in explorer
        assert "- already on `20260731-948`: golf" in explorer
        assert "- failed on delta: build failed at" in explorer

    def test_a_new_repository_is_named_in_full(self, monthly_run: JournalRun) -> None:
        superset = upgrade_note(monthly_run).split("## superset\n")[1].split("##")[0]
        assert ("- `registry.example.org/cmi/superset-docker:4.1.2_20250519-1315` → "
                f"`{SUPERSET}:6.1.0_20260803-1652` on 1 instance: echo") in superset
        assert "- `6.0.0_20260303-0213` → `6.1.0_20260803-1652` on 1 instance: acme" in superset

    def test_skips_share_a_line_per_reason_and_open_rows_say_what_settles_them(
        self, monthly_run: JournalRun
    ) -> None:
        note = upgrade_note(monthly_run)
        assert ("- skipped on acme, bravo: server build (img-captain-...): needs a human"
                in note)
        assert ("- not settled on foxtrot (last known: sending); `gc-tui log --reconcile` "
                "settles it") in note
        summary = note.splitlines()[2]
        assert summary == ("**5 apps changed** on 4 instances; **1 failed**; "
                           "1 already up to date; 2 skipped; **1 not settled**.")
        assert "- group superset on acme is split: 1 done, 1 cancelled" in note


class TestInstancesNotReached:
    """A fleet-wide run that could not audit an instance says so once, above the apps."""

    def test_an_unreachable_instance_is_named_with_its_reason(self, tmp_path: Path) -> None:
        journal = Journal(tmp_path / "deploys.jsonl")
        write_run(journal)
        (run,) = read_journal(journal.path).runs
        unreached = {"type": "run", "run": "r2", "action": "deploy", "user": "operator-name",
                     "rows": [_row("acme", "explorer", f"{EXPLORER}:1", f"{EXPLORER}:2")],
                     "skipped": [{"instance": "hotel", "app": EVERY_APP, "from_image": None,
                                  "to_image": None,
                                  "reason": "instance failed the audit: connection refused"}]}
        journal.append(unreached)
        newest = read_journal(journal.path).runs[0]
        assert newest.run_id == "r2" and run.run_id == "r1"
        note = upgrade_note(newest)
        assert "**Not reached:**\n\n- hotel: instance failed the audit: connection refused" in note
        assert [line for line in note.splitlines() if line.startswith("## ")] == ["## explorer"]


class TestNothingLeaks:
    """The note goes to the communities: no secret, no server URL, no markup from servers."""

    def test_no_credentials_no_urls_no_escapes(self, monthly_run: JournalRun) -> None:
        note = upgrade_note(monthly_run)
        assert "hunter2" not in note and "admin:" not in note
        assert "captain.acme.example.org" not in note  # the journal's row URLs stay out
        assert "operator-name" not in note
        assert "\x1b" not in note
        assert "https://captain.delta.example.org/api" in note  # the reason keeps its host

    def test_journal_text_is_escaped(self) -> None:
        assert plain("*boom* <b>|x|</b> [a](b) `c`") == (
            r"\*boom\* \<b\>\|x\|\</b\> \[a\](b) \`c\`"
        )


def test_log_prints_the_note_of_the_last_run() -> None:
    journal = Journal(default_journal_path())
    journal.append({"type": "run", "run": "old", "action": "deploy", "rows": [], "skipped": [],
                    "at": "2026-07-28T09:00:00.000Z"})
    write_run(journal)
    out, err = io.StringIO(), io.StringIO()
    code = run(["log", "--last", "--format", "markdown"], stdin=io.StringIO(""), stdout=out,
               stderr=err)
    assert code == 0, err.getvalue()
    assert out.getvalue().count("# Upgrade of") == 1
    assert "_gc-tui run r1 (deploy)" in out.getvalue()
