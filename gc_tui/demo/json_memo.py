"""``json.dumps`` of a value that is rebuilt on every request but rarely changes.

The appDefinitions listing is ~35 KB of JSON per instance, and encoding it was the largest
single cost of the fake in benchmarks (~0.2 ms a listing). Knowing whether the listing changed is
the hard part: tests mutate apps in place (``app.versions.append``,
``app.env_vars[0]["value"] = ...``, builds flip isAppBuilding), so no flag or version counter can
be trusted. Instead the value is fingerprinted
with ``marshal`` format 2, which costs about a third of encoding it as JSON, and the previous JSON
is reused only when the fingerprint is byte-for-byte the same.

Why equal fingerprints mean equal JSON: format 2 writes no back-references, so its bytes are a
function of the value alone, and it accepts exact built-in types only (a str or int subclass
raises ValueError), writing their type with each: True and 1, 1 and 1.0, "1" and 1 all differ.
Strings go out as UTF-8 (injective), floats as their 8 bytes, dicts in iteration order, as
json.dumps walks them. So two values with the same fingerprint are the same tree of the same
exact types, whose ``json.dumps`` output is the same. (marshal also takes bytes, bytearrays, sets
and the like, but json.dumps refuses them, so no remembered fingerprint contains one.) Values
marshal refuses are simply encoded every time.
"""

from __future__ import annotations

import json
import marshal
from typing import Any

_FORMAT = 2  # 3 and later mark shared and interned objects: same value, different bytes


class JsonMemo:
    """Encodes values as ``json.dumps(value).encode()``, remembering the last one."""

    __slots__ = ("_encoded", "_fingerprint")

    def __init__(self) -> None:
        self._fingerprint: bytes | None = None
        self._encoded = b""

    def encode(self, value: Any) -> bytes:
        try:
            fingerprint = marshal.dumps(value, _FORMAT)
        except ValueError:  # not exact built-in types, or nested too deeply
            return json.dumps(value).encode()
        if fingerprint != self._fingerprint:
            # Encode first: a value json refuses must not leave its fingerprint behind.
            self._encoded = json.dumps(value).encode()
            self._fingerprint = fingerprint
        return self._encoded
