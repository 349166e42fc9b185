"""Ports on 127.0.0.1 for the servers the development tools and the tests start.

A port is chosen at random below the kernel's ephemeral range
(`/proc/sys/net/ipv4/ip_local_port_range`) and checked free. The kernel hands ports of
that range to every outgoing connection, and a busy test run makes thousands (to the
wikis, the bridge, the directory): a port taken from it and left unbound for a moment
before its server binds it could be given to one of them meanwhile. Below the range
only another caller of `free_port` could pick the same port, one chance in thousands.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

LOWEST = 10000


def _ephemeral_start() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now, outside the ephemeral range."""
    highest = _ephemeral_start() - 1
    if highest - LOWEST >= 1000:
        for _ in range(100):
            port = random.randint(LOWEST, highest)  # noqa: S311 - not a secret
            if _bindable(port) and not port_in_use(port):
                return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))  # the kernel's choice, when no range is left below
        return int(sock.getsockname()[1])


def port_in_use(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:``port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0
