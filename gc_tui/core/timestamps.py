"""Timestamps as registries and CapRover write them (RFC 3339), read into aware datetimes."""

from __future__ import annotations

import re
from datetime import UTC, datetime

# Go writes nanoseconds (``2026-08-24T09:03:12.123456789Z``); Python reads at most micro.
_FRACTION = re.compile(r"(\.\d{6})\d+")


def parse_timestamp(text: object) -> datetime | None:
    """An aware datetime (UTC when no offset is written), or None for anything unreadable."""
    if not isinstance(text, str) or not text:
        return None
    cleaned = _FRACTION.sub(r"\1", text.strip())
    if cleaned.endswith(("Z", "z")):
        cleaned = cleaned[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(cleaned)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def format_timestamp(moment: datetime) -> str:
    """UTC, to the second, with a ``Z``: how gc-tui writes times into JSON and its cache."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
