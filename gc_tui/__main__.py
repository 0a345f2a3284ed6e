"""``python -m gc_tui`` is ``gc-tui``."""

from gc_tui.cli import main

main()
