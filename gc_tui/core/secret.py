"""A wrapper that keeps secrets out of reprs, f-strings, logs and tracebacks."""

from __future__ import annotations


class Secret:
    """Holds a password, OTP seed or token; prints as ``Secret(***)``.

    The value is only reachable through :meth:`reveal`, so a secret that ends up in an
    exception message, a log line or a dataclass repr shows as stars.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret(***)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __len__(self) -> int:
        return len(self._value)

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("secrets are not pickled")
