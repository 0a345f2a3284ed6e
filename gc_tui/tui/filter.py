"""The `/` filter: parse what the operator typed into terms, match them against a row.

Syntax (k9s habits): whitespace-separated terms, all must hold. A term is a regex (case
insensitive) searched in every column, or ``field:regex`` to look at one column only
(``instance:``, ``app:``, ``image:``, ``status:``; ``status:`` also sees drift states and
``manual``). A leading ``!`` negates a term. A term that is not a valid regex is searched as
plain text, and the filter says so, so a stray ``[`` never hides every row.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from enum import StrEnum


class Field(StrEnum):
    INSTANCE = "instance"
    APP = "app"
    IMAGE = "image"
    STATUS = "status"


# Short names operators will type anyway.
_ALIASES = {
    "instance": Field.INSTANCE,
    "server": Field.INSTANCE,
    "host": Field.INSTANCE,
    "app": Field.APP,
    "image": Field.IMAGE,
    "img": Field.IMAGE,
    "repo": Field.IMAGE,
    "tag": Field.IMAGE,
    "status": Field.STATUS,
    "state": Field.STATUS,
    "drift": Field.STATUS,
}

Fields = Mapping[Field, Sequence[str]]

_MEMO_LIMIT = 50_000


@dataclass(frozen=True)
class Term:
    field: Field | None  # None: any column
    pattern: re.Pattern[str]
    negate: bool = False
    literal: bool = False  # the text was not a valid regex and is matched as typed
    # value -> found: a fleet repeats its names, images and states across thousands of rows.
    _found: dict[str, bool] = dataclass_field(
        default_factory=dict, init=False, compare=False, repr=False
    )

    def holds(self, fields: Fields, everything: Iterable[str] | None = None) -> bool:
        """``everything``: every value of ``fields``, if the caller has them at hand."""
        if self.field is None:
            if everything is None:
                everything = [value for values in fields.values() for value in values]
            haystack: Iterable[str] = everything
        else:
            haystack = fields.get(self.field, ())
        return self._search(haystack) != self.negate

    def _search(self, values: Iterable[str]) -> bool:
        found = self._found
        for value in values:
            hit = found.get(value)
            if hit is None:
                if len(found) > _MEMO_LIMIT:
                    found.clear()
                hit = found[value] = self.pattern.search(value) is not None
            if hit:
                return True
        return False


@dataclass(frozen=True)
class Filter:
    text: str = ""
    terms: tuple[Term, ...] = ()

    @property
    def active(self) -> bool:
        return bool(self.terms)

    @property
    def literal(self) -> bool:
        return any(term.literal for term in self.terms)

    def matches(self, fields: Fields, everything: Iterable[str] | None = None) -> bool:
        """``everything``: every value of ``fields`` (FleetRow.search_values), to save a list."""
        return all(term.holds(fields, everything) for term in self.terms)


NO_FILTER = Filter()


def parse_filter(text: str) -> Filter:
    terms = tuple(term for word in text.split() if (term := _parse_term(word)) is not None)
    return Filter(text.strip(), terms)


def _parse_term(word: str) -> Term | None:
    negate = word.startswith("!")
    if negate:
        word = word[1:]
    field: Field | None = None
    prefix, colon, rest = word.partition(":")
    # Only a known field name is a prefix: "postgres:15" is free text with a colon in it.
    if colon and prefix.lower() in _ALIASES:
        field = _ALIASES[prefix.lower()]
        word = rest
    if not word:
        return None
    try:
        pattern = re.compile(word, re.IGNORECASE)
        literal = False
    except re.error:
        pattern = re.compile(re.escape(word), re.IGNORECASE)
        literal = True
    return Term(field, pattern, negate, literal)
