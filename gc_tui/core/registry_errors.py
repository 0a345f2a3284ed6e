"""Why an upstream lookup failed, in the words the operator reads after ``unknown``."""

from __future__ import annotations

from enum import StrEnum


class LookupProblem(StrEnum):
    UNREACHABLE = "registry unreachable"
    NOT_FOUND = "repository not found"
    RATE_LIMITED = "rate-limited"
    DENIED = "access denied"
    REGISTRY_ERROR = "registry error"  # an answer the API does not allow
    NO_LINE = "no tag of the running scheme"
    NOT_AN_IMAGE = "not a registry image"
    NOT_LOOKED_UP = "not looked up"  # no lookup for its repository (yet): show it as pending


class RegistryError(Exception):
    """One lookup's failure; ``str()`` is one line, free of tokens and credentials.

    ``retry_at`` (seconds since the epoch) is set when the registry said when to come back.
    """

    def __init__(self, problem: LookupProblem, detail: str = "", *, retry_at: float | None = None):
        super().__init__(f"{problem} ({detail})" if detail else str(problem))
        self.problem = problem
        self.detail = detail
        self.retry_at = retry_at
