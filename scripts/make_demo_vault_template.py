"""Write gc_tui/demo/data/demo_template.kdbx: an empty KDBX 4 vault with a cheap KDF.

The demo writes its vault from this template so that neither writing nor opening it pays
for a real key derivation (pykeepass's own blank database uses Argon2 64 MiB x 14, seconds
on a busy machine): the demo's first frame must come quickly, and its password is printed
on screen anyway. Run it again only to change the template.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pykeepass import PyKeePass  # type: ignore[import-untyped]
from pykeepass.pykeepass import (  # type: ignore[import-untyped]
    BLANK_DATABASE_LOCATION,
    BLANK_DATABASE_PASSWORD,
)

from gc_tui.demo.demo_vault import TEMPLATE, TEMPLATE_PASSWORD
from tests.vaults import _set_argon2


def main() -> None:
    kp = PyKeePass(BLANK_DATABASE_LOCATION, password=BLANK_DATABASE_PASSWORD)
    _set_argon2(kp, "argon2id", memory=64 * 1024, iterations=1, parallelism=1)
    kp.password = TEMPLATE_PASSWORD
    buffer = io.BytesIO()
    kp.save(buffer)
    TEMPLATE.write_bytes(buffer.getvalue())
    print(f"wrote {TEMPLATE} ({len(buffer.getvalue())} bytes)")


if __name__ == "__main__":
    main()
