"""The upstream cache: ``$XDG_CACHE_HOME/gc-tui/upstream.json`` (default ``~/.cache``).

It holds what registries said, never how we asked: tags, digests and ``created`` times per
repository with the time they were read, the ``created`` time of every image digest seen (an
image's config never changes, so that part outlives the TTL and spares pulls), and registries
that answered 429 with the time they asked us to come back. Tokens and credentials never go in.

A missing, unreadable or foreign file is an empty cache, never an error: it is only a cache.
Writes merge with what another run may have written meanwhile, and replace the file atomically
with mode 0600 (its folder 0700).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from gc_tui.core.images import is_valid_tag
from gc_tui.core.registry_answers import DIGEST
from gc_tui.core.timestamps import parse_timestamp
from gc_tui.core.upstream import RepositoryLookup, TagDetails

CACHE_VERSION = 1
DEFAULT_TTL = timedelta(hours=1)
# Entries nobody asked about for this long are dropped, so the file cannot grow for ever.
_KEEP = timedelta(days=30)
_MAX_BYTES = 32 * 1024 * 1024


def default_cache_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gc-tui" / "upstream.json"


@dataclass(frozen=True)
class CacheContents:
    repositories: Mapping[str, RepositoryLookup] = field(default_factory=dict)
    created: Mapping[str, datetime] = field(default_factory=dict)  # image digest -> created
    blocked: Mapping[str, float] = field(default_factory=dict)  # origin -> epoch seconds


def _stamp(moment: datetime) -> str:
    # Full precision: a created time read back must equal the one the registry gave.
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def is_fresh(lookup: RepositoryLookup, now: datetime, ttl: timedelta = DEFAULT_TTL) -> bool:
    return lookup.error is None and now - lookup.checked_at < ttl


class UpstreamCache:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_cache_path()

    def load(self) -> CacheContents:
        try:
            with self.path.open("rb") as handle:
                raw = handle.read(_MAX_BYTES + 1)
        except OSError:
            return CacheContents()
        if len(raw) > _MAX_BYTES:
            return CacheContents()
        try:
            document = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return CacheContents()
        if not isinstance(document, dict) or document.get("version") != CACHE_VERSION:
            return CacheContents()
        return _contents(document)

    def save(self, update: CacheContents, now: datetime) -> None:
        """Merge ``update`` into the file (the newer reading of a repository wins)."""
        current = self.load()
        repositories = dict(current.repositories)
        for name, lookup in update.repositories.items():
            if lookup.error is not None:
                continue
            known = repositories.get(name)
            if known is None or known.checked_at <= lookup.checked_at:
                repositories[name] = lookup
        repositories = {n: r for n, r in repositories.items() if now - r.checked_at < _KEEP}
        seen_digests = {
            detail.digest
            for lookup in repositories.values()
            for detail in lookup.details.values()
            if detail.digest
        }
        created = {**current.created, **update.created}
        created = {digest: moment for digest, moment in created.items() if digest in seen_digests}
        blocked = {
            origin: until
            for origin, until in {**current.blocked, **update.blocked}.items()
            if until > now.timestamp()
        }
        document = {
            "version": CACHE_VERSION,
            "repositories": {name: _lookup_json(lookup) for name, lookup in repositories.items()},
            "created": {digest: _stamp(moment) for digest, moment in created.items()},
            "blocked": blocked,
        }
        self._write(orjson.dumps(document, option=orjson.OPT_SORT_KEYS))

    def _write(self, payload: bytes) -> None:
        folder = self.path.parent
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        # mkstemp creates the file 0600, so it is never readable by others, even briefly.
        fd, temp_name = tempfile.mkstemp(dir=folder, prefix=f".{self.path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(payload)
            os.replace(temp_name, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                Path(temp_name).unlink()
            raise


def _lookup_json(lookup: RepositoryLookup) -> dict[str, Any]:
    return {
        "checked_at": _stamp(lookup.checked_at),
        "tags": list(lookup.tags),
        "truncated": lookup.truncated,
        "details": {
            tag: {
                "digest": detail.digest,
                "created": _stamp(detail.created) if detail.created else None,
            }
            for tag, detail in lookup.details.items()
        },
    }


def _contents(document: dict[str, Any]) -> CacheContents:
    """Read back defensively: the file is ours, but anything could have written it."""
    repositories: dict[str, RepositoryLookup] = {}
    raw_repositories = document.get("repositories")
    for name, raw in (raw_repositories if isinstance(raw_repositories, dict) else {}).items():
        lookup = _lookup(name, raw)
        if lookup is not None:
            repositories[name] = lookup
    created: dict[str, datetime] = {}
    raw_created = document.get("created")
    for digest, text in (raw_created if isinstance(raw_created, dict) else {}).items():
        moment = parse_timestamp(text)
        if DIGEST.fullmatch(digest) and moment is not None:
            created[digest] = moment
    blocked: dict[str, float] = {}
    raw_blocked = document.get("blocked")
    for origin, until in (raw_blocked if isinstance(raw_blocked, dict) else {}).items():
        if isinstance(until, (int, float)) and not isinstance(until, bool):
            blocked[origin] = float(until)
    return CacheContents(repositories, created, blocked)


def _lookup(name: str, raw: object) -> RepositoryLookup | None:
    if not isinstance(raw, dict):
        return None
    checked_at = parse_timestamp(raw.get("checked_at"))
    tags = raw.get("tags")
    if checked_at is None or not isinstance(tags, list):
        return None
    details: dict[str, TagDetails] = {}
    raw_details = raw.get("details")
    for tag, detail in (raw_details if isinstance(raw_details, dict) else {}).items():
        if not is_valid_tag(tag) or not isinstance(detail, dict):
            continue
        digest = detail.get("digest")
        details[tag] = TagDetails(
            digest if isinstance(digest, str) and DIGEST.fullmatch(digest) else None,
            parse_timestamp(detail.get("created")),
        )
    return RepositoryLookup(
        repository=name,
        checked_at=checked_at,
        tags=tuple(tag for tag in tags if isinstance(tag, str) and is_valid_tag(tag)),
        details=details,
        truncated=raw.get("truncated") is True,
        from_cache=True,
    )
