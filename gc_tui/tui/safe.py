"""The only way server or vault text reaches a widget: control-free and never parsed as markup."""

from __future__ import annotations

from rich.text import Text

from gc_tui.core.text import printable


def safe_text(
    value: object, max_len: int | None = None, style: str = "", *, wrap: bool = False
) -> Text:
    """``Text`` is never parsed as markup; ``printable`` removes escapes and control bytes."""
    if value is None:
        return Text("", style=style)
    if wrap:
        return Text(printable(value, max_len), style=style)
    return Text(printable(value, max_len), style=style, no_wrap=True, overflow="ellipsis")


def safe_lines(lines: object, style: str = "") -> Text:
    """Several lines of server text (a build log) as one inert ``Text``."""
    if not lines:
        return Text("")
    return Text("\n".join(printable(line) for line in lines), style=style)  # type: ignore[attr-defined]
