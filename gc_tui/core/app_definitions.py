"""CapRover's ``appDefinitions`` entries turned into AppInfo (the shape is in docs/caprover.md).

Only the fields an audit and a rollback need are read; anything else in an entry (env values,
git credentials: CapRover returns them in clear) is never copied out of the parsed JSON.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, overload

from gc_tui.core.model import AppInfo, AppVersion
from gc_tui.core.text import printable


class MalformedApp(ValueError):
    """An entry that is not an app: ``str()`` says what is missing, in one line."""


def parse_app(raw: object) -> AppInfo:
    """One entry of ``appDefinitions``; MalformedApp when it has no name or deployedVersion."""
    if not isinstance(raw, dict) or not isinstance(raw.get("appName"), str):
        raise MalformedApp("an app in appDefinitions has no name")
    deployed = raw.get("deployedVersion")
    if isinstance(deployed, bool) or not isinstance(deployed, int):
        raise MalformedApp(f"app {printable(raw['appName'], 60)} has no deployedVersion")
    raw_versions = raw.get("versions")
    history = VersionHistory(raw_versions if type(raw_versions) is list else [])
    live = history.find(deployed)
    tags = tuple(
        t["tagName"]
        for t in raw.get("tags") or []
        if isinstance(t, dict) and isinstance(t.get("tagName"), str)
    )
    project = raw.get("projectId")
    return AppInfo(
        name=raw["appName"],
        deployed_version=deployed,
        image=live.image if live else None,
        deployed_at=live.timestamp if live else None,
        tags=tags,
        project_id=project if isinstance(project, str) else "",
        is_building=bool(raw.get("isAppBuilding")),
        versions=history,
    )


class VersionHistory(Sequence[AppVersion]):
    """An app's ``versions[]`` as CapRover sent it, turned into AppVersion on first use.

    An audit reads every app of every instance but seldom needs the history (rollback
    targets and the detail view do): parsing tens of thousands of entries up front was the
    largest part of an audit's client CPU (benchmarks/bench_audit.py). Entries that are not
    objects with an integer ``version`` are left out, as if CapRover had not sent them.
    """

    __slots__ = ("_entries", "_raw")

    def __init__(self, raw: list[Any]) -> None:
        self._raw = raw
        self._entries: tuple[AppVersion, ...] | None = None

    def find(self, number: int) -> AppVersion | None:
        """The last entry whose version is ``number`` (the live one, for deployedVersion)."""
        if self._entries is not None:
            return next((v for v in reversed(self._entries) if v.version == number), None)
        for entry in reversed(self._raw):  # the deployed version is nearly always the last
            if type(entry) is dict:
                found = entry.get("version")
                if found == number and type(found) is int:
                    return _version(entry, number)
        return None

    def _parsed(self) -> tuple[AppVersion, ...]:
        if self._entries is None:
            self._entries = tuple(
                _version(entry, entry["version"])
                for entry in self._raw
                if type(entry) is dict and type(entry.get("version")) is int
            )
            self._raw = []  # parsed once; the raw dicts are no longer needed
        return self._entries

    @overload
    def __getitem__(self, index: int) -> AppVersion: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[AppVersion]: ...
    def __getitem__(self, index: int | slice) -> AppVersion | Sequence[AppVersion]:
        return self._parsed()[index]

    def __len__(self) -> int:
        return len(self._parsed())

    def __iter__(self) -> Iterator[AppVersion]:
        return iter(self._parsed())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (VersionHistory, tuple)):
            return self._parsed() == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._parsed())

    def __repr__(self) -> str:
        return f"VersionHistory({self._parsed()!r})"


def _version(entry: dict[str, Any], number: int) -> AppVersion:
    image = entry.get("deployedImageName")
    stamp = entry.get("timeStamp")
    return AppVersion(
        number, image if type(image) is str else None, stamp if type(stamp) is str else None
    )
