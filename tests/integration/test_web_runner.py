"""The relay of `generic` web services that listen on $PORT (`ats-web-relay`, rendered by
`ats host render`), run as a made-up tool's user against real servers on loopback
ports: it carries the front door's socket to its own user's server, refuses a port that
another user's server took, and steps aside for a server that takes the socket itself.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.ports import free_port
from provisioning.loginhost import fill, template
from tests.waiting import wait_until

# Outside every uid range the suite's directories use, so no session guard minds them.
TOOL = 93001
OTHER = 93002
SERVER = (
    "import http.server, sys\n"
    "class Echo(http.server.BaseHTTPRequestHandler):\n"
    "    def do_GET(self):\n"
    "        body = sys.argv[2].encode()\n"
    "        self.send_response(200)\n"
    "        self.send_header('Content-Length', str(len(body)))\n"
    "        self.end_headers()\n"
    "        self.wfile.write(body)\n"
    "http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), Echo).serve_forever()\n"
)


def _as(uid: int, *command: str) -> list[str]:
    return ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", *command]


@pytest.fixture
def place() -> Iterator[Path]:
    """A folder the made-up users can reach (pytest's own is its owner's alone)."""
    base = Path(tempfile.mkdtemp(prefix="ats-relay-"))
    base.chmod(0o755)
    relay = base / "ats-web-relay"
    relay.write_text(fill(template("ats-web-relay.tmpl"), {}))
    relay.chmod(0o755)
    (base / "web").mkdir()
    os.chown(base / "web", TOOL, TOOL)
    yield base
    shutil.rmtree(base)


def _start(*command: str) -> subprocess.Popen[str]:
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _get(path: Path) -> bytes:
    """What a request over the Unix socket `path` gets back (b"" when it is closed or
    reset)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(5)
        client.connect(str(path))
        client.sendall(b"GET / HTTP/1.0\r\nHost: mytool.ts.example\r\n\r\n")
        answer = b""
        try:
            while chunk := client.recv(65536):
                answer += chunk
        except ConnectionResetError:
            return b""
        return answer


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_the_relay_carries_its_own_users_server_and_refuses_anothers(place: Path) -> None:
    port = free_port()
    sock = place / "web" / "web.sock"
    server = _start(*_as(TOOL, sys.executable, "-c", SERVER, str(port), "mine"))
    relay = _start(*_as(TOOL, str(place / "ats-web-relay"), str(sock), str(port)))
    other: subprocess.Popen[str] | None = None
    try:
        wait_until(sock.exists, 10, what="the relay's socket")
        assert _get(sock).endswith(b"mine")
        # The tool's server ends; another user's takes the port: nothing reaches it.
        server.kill()
        server.wait()
        other = _start(*_as(OTHER, sys.executable, "-c", SERVER, str(port), "theirs"))
        wait_until(lambda: _listening(port), 10, what="the other user's server")
        assert _get(sock) == b""
        relay.kill()
        _, said = relay.communicate()
        assert f"port {port} is not this tool's server's: refused" in said
    finally:
        for process in (server, relay, other):
            if process is not None:
                process.kill()
                process.wait()


def test_the_relay_steps_aside_for_a_server_on_the_socket(place: Path) -> None:
    sock = place / "web" / "web.sock"
    relay = _start(*_as(TOOL, str(place / "ats-web-relay"), str(sock), str(free_port())))
    listener = _start(
        *_as(
            TOOL,
            sys.executable,
            "-c",
            "import socket, sys, time\n"
            "s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(); time.sleep(30)",
            str(sock),
        )
    )
    try:
        assert relay.wait(timeout=10) == 0
        assert sock.exists()  # the server's own socket, left alone
    finally:
        listener.kill()
        listener.wait()


def test_the_relay_says_how_it_is_used() -> None:
    done = subprocess.run(
        [sys.executable, "-c", fill(template("ats-web-relay.tmpl"), {}), "only-one"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2 and done.stderr == "usage: ats-web-relay SOCKET PORT\n"
