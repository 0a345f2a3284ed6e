"""Make untrusted strings (from servers or the vault) safe to put on a terminal."""

from __future__ import annotations

import re

# C0 except tab, DEL, C1, bidi embeddings/overrides/isolates, zero-width characters and BOM:
# any of them can retitle the terminal, hide text or reorder what the operator reads.
_UNSAFE = re.compile(
    "[\x00-\x08\x0a-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]"
)
# A whole escape sequence (CSI, OSC terminated by BEL or ST, or a two-byte ESC form) goes
# at once, so its printable tail ("]0;title") does not survive as confusing text.
_ESCAPE_SEQUENCE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]|\x9b[0-?]*[ -/]*[@-~]"
)


def printable(value: object, max_len: int | None = None) -> str:
    """The string with escape sequences and control characters removed, tabs as spaces."""
    text = _ESCAPE_SEQUENCE.sub("", str(value))
    text = _UNSAFE.sub("", text).replace("\t", " ")
    if max_len is not None and len(text) > max_len:
        text = text[: max(max_len - 1, 0)] + "…"
    return text
