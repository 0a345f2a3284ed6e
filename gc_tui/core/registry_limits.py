"""Rate limits as registries announce them: Docker Hub's ``ratelimit-*`` headers, the Hub
API's ``X-RateLimit-*``, and a 429's ``Retry-After`` (seconds or a date) or ``X-Retry-After``
(a Unix time). docs/registries.md ("Rate limits") has the sources; no number is assumed,
every figure comes from the headers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

_QUOTA = re.compile(r"\s*(\d+)\s*(?:;\s*w\s*=\s*(\d+))?")


@dataclass(frozen=True)
class RateLimit:
    """The last quota a registry announced; None where it said nothing."""

    limit: int | None = None
    remaining: int | None = None
    window_seconds: int | None = None
    reset_at: float | None = None  # seconds since the epoch

    def describe(self) -> str:
        window = f" per {_duration(self.window_seconds)}" if self.window_seconds else ""
        if self.remaining is not None and self.limit is not None:
            return f"{self.remaining} of {self.limit} left{window}"
        if self.remaining is not None:
            return f"{self.remaining} left{window}"
        return f"limit {self.limit}{window}" if self.limit is not None else "no figures"


def _duration(seconds: int) -> str:
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def _quota(value: str | None) -> tuple[int | None, int | None]:
    match = _QUOTA.match(value or "")
    if match is None:
        return None, None
    return int(match[1]), int(match[2]) if match[2] else None


def rate_limit_of(headers: Mapping[str, str]) -> RateLimit | None:
    """The quota in an answer's headers, or None when it carries none (an unlimited client)."""
    limit, window = _quota(headers.get("ratelimit-limit"))
    remaining, remaining_window = _quota(headers.get("ratelimit-remaining"))
    if limit is None and remaining is None:
        limit, window = _quota(headers.get("x-ratelimit-limit"))
        remaining, remaining_window = _quota(headers.get("x-ratelimit-remaining"))
    reset, _ = _quota(headers.get("x-ratelimit-reset"))
    if limit is None and remaining is None and reset is None:
        return None
    return RateLimit(limit, remaining, window or remaining_window, float(reset) if reset else None)


def retry_at_of(headers: Mapping[str, str], now: float) -> float | None:
    """When a 429 says to come back, as seconds since the epoch; None when it does not say."""
    value = (headers.get("retry-after") or "").strip()
    if value.isascii() and value.isdigit():
        return now + int(value)
    if value:
        try:
            return parsedate_to_datetime(value).timestamp()
        except (TypeError, ValueError, IndexError):
            pass
    unix, _ = _quota(headers.get("x-retry-after"))
    if unix is not None:
        return float(unix)
    reset, _ = _quota(headers.get("x-ratelimit-reset"))
    return float(reset) if reset is not None else None
