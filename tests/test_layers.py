"""The core is usable without the TUI: no module of gc_tui.core imports Textual, and the
headless commands do not load it either (nor does --help, which must start fast)."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import importlib, pkgutil, sys
import gc_tui.core
for module in pkgutil.walk_packages(gc_tui.core.__path__, "gc_tui.core."):
    importlib.import_module(module.name)
{extra}
print(sorted(name for name in sys.modules if name == "textual" or name.startswith("textual.")))
"""


def loaded_textual(extra: str = "") -> str:
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(extra=extra)],
        capture_output=True, text=True, check=True,
    )
    return result.stdout.strip()


def test_every_core_module_imports_without_textual() -> None:
    assert loaded_textual() == "[]"


def test_the_headless_cli_and_its_help_do_not_load_textual() -> None:
    extra = (
        "import contextlib, io, gc_tui.cli, gc_tui.report, gc_tui.config\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "    gc_tui.cli.run(['--help'])\n"
    )
    assert loaded_textual(extra) == "[]"


def test_the_probe_can_see_textual() -> None:
    """The probe itself would notice: importing the TUI does load Textual."""
    assert "textual" in loaded_textual("import gc_tui.tui.app")
