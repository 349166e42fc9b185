"""The unit tests' guard (tests/unit/conftest.py): connections and look-ups fail loudly,
an attempt swallowed by the code under test is still remembered, Unix sockets work."""

from __future__ import annotations

import contextlib
import socket
import threading
from pathlib import Path

import pytest
import requests

from tests.unit.conftest import NetworkBlocked


def test_a_connection_to_any_address_is_refused_with_a_clear_message(
    no_network: list[str],
) -> None:
    with pytest.raises(NetworkBlocked, match=r"belongs in tests/integration"):
        socket.create_connection(("127.0.0.1", 9), timeout=1)
    with socket.socket(socket.AF_INET6) as sock, pytest.raises(NetworkBlocked):
        sock.connect_ex(("::1", 9))
    assert len(no_network) == 2
    no_network.clear()  # seen here; the guard would otherwise fail this test at its end


def test_a_host_name_is_not_even_looked_up(no_network: list[str]) -> None:
    with pytest.raises(NetworkBlocked, match="look up 'meta.wikimedia.org'"):
        socket.getaddrinfo("meta.wikimedia.org", 443)
    assert socket.getaddrinfo("127.0.0.1", 80)  # a literal address needs no look-up
    assert no_network == ["look up 'meta.wikimedia.org'"]
    no_network.clear()


def test_an_attempt_the_code_swallows_is_remembered(no_network: list[str]) -> None:
    with contextlib.suppress(Exception):  # what careless code under test might do
        requests.get("http://127.0.0.1:9/api.php", timeout=1)
    assert no_network == ["connect to ('127.0.0.1', 9)"]
    no_network.clear()


def test_unix_sockets_still_work(tmp_path: Path) -> None:
    path = str(tmp_path / "s")
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(path)
        server.listen()
        accepted = threading.Thread(target=lambda: server.accept()[0].sendall(b"ok"))
        accepted.start()
        with socket.socket(socket.AF_UNIX) as client:
            client.connect(path)
            assert client.recv(2) == b"ok"
        accepted.join(5)
