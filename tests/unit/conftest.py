"""What every unit test runs under: no network.

Unit tests are pure; anything that needs a server (the local wiki, slapd, a bridge on a
port) belongs in tests/integration. A bug that let a unit test reach the network would
otherwise pass quietly on a developer's machine and hang or fail in CI, so every
connection to an internet address and every host-name look-up raises `NetworkBlocked`.
Code under test may catch that error (the wiki adapter turns connection errors into
one-line messages, for instance), so the attempt is also remembered and fails the test
at its end. Unix sockets stay open: they reach no network.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import pytest


class NetworkBlocked(RuntimeError):
    """A unit test tried to reach the network."""


def _is_literal_address(host: object) -> bool:
    try:
        ipaddress.ip_address(str(host))
    except ValueError:
        return False
    return True


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Refuse connections and name look-ups; yield the attempts made."""
    attempts: list[str] = []

    def refuse(what: str) -> NetworkBlocked:
        attempts.append(what)
        return NetworkBlocked(
            f"unit tests may not use the network ({what}); "
            "a test that needs a server belongs in tests/integration"
        )

    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def connect(self: socket.socket, address: Any) -> None:
        if self.family == socket.AF_UNIX:
            return real_connect(self, address)
        raise refuse(f"connect to {address!r}")

    def connect_ex(self: socket.socket, address: Any) -> int:
        if self.family == socket.AF_UNIX:
            return real_connect_ex(self, address)
        raise refuse(f"connect to {address!r}")

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        # A literal address needs no look-up; a name would send a DNS query.
        if host is None or _is_literal_address(host):
            return real_getaddrinfo(host, *args, **kwargs)
        raise refuse(f"look up {host!r}")

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield attempts
    if attempts:
        pytest.fail(
            "this unit test tried to use the network: " + "; ".join(attempts), pytrace=False
        )
