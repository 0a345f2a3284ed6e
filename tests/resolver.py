"""A stand-in for the system resolver, for names no DNS here can answer.

Only the resolver is replaced (``socket.getaddrinfo``, which asyncio's own loop calls); the
connection, TLS and HTTP that follow are real. It records every name it is asked for, so a
test can prove that a name was never looked up at all.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest


class FakeResolver:
    def __init__(self, monkeypatch: pytest.MonkeyPatch, names: dict[str, list[str]]) -> None:
        """``names``: host name -> its addresses, in the order the resolver gives them."""
        self.names = names
        self.asked: list[str] = []
        self._real = socket.getaddrinfo
        monkeypatch.setattr(socket, "getaddrinfo", self._getaddrinfo)

    def _getaddrinfo(self, host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode("ascii") if isinstance(host, bytes) else str(host)
        self.asked.append(name)
        if name not in self.names:
            return self._real(host, port, *args, **kwargs)
        result: list[tuple[socket.AddressFamily, socket.SocketKind, int, str, tuple[Any, ...]]] = []
        for address in self.names[name]:
            if ":" in address:
                result.append((socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0)))
            else:
                result.append((socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)))
        return result
