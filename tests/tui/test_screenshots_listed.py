"""The README shows every screenshot the script makes, and nothing it no longer makes.

A screenshot nobody links goes stale unseen; a link to a removed file is a broken image on
the project's front page. scripts/screenshots.py deletes the old files before it writes, so
the directory is exactly what the script makes.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINK = re.compile(r"\]\((screenshots/[^)\s]+)\)")


def readme_links() -> set[str]:
    return set(LINK.findall((ROOT / "README.md").read_text(encoding="utf-8")))


def screenshot_files() -> set[str]:
    return {f"screenshots/{p.name}" for p in (ROOT / "screenshots").glob("*.svg")}


def test_the_readme_shows_every_screenshot() -> None:
    files = screenshot_files()
    assert files, "screenshots/ is empty: run scripts/screenshots.py"
    assert sorted(files - readme_links()) == []


def test_every_screenshot_the_readme_shows_exists() -> None:
    links = readme_links()
    assert links
    assert sorted(links - screenshot_files()) == []


def test_the_issue_s_matrix_sizes_are_shown() -> None:
    # Issue 17 asks for the matrix at 120x40 and 200x50 in the README.
    svgs = {
        link: (ROOT / link).read_text(encoding="utf-8")
        for link in readme_links()
        if "matrix" in link and (ROOT / link).exists()
    }
    sizes = {size for text in svgs.values() for size in _terminal_size(text)}
    assert {"120x40", "200x50"} <= sizes


def _terminal_size(svg: str) -> set[str]:
    # scripts/screenshots.py titles each export "gc-tui WxH", the terminal it was made at
    # (Textual writes the title's space as &#160;).
    return set(re.findall(r">gc-tui(?:&#160;| )(\d+x\d+)<", svg))
