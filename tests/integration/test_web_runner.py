"""The hosts' runner of web services (`ats-webservice`) and the relay of `generic` ones
that listen on $PORT (`ats-web-relay`), both rendered by `ats host render`, run as a
made-up tool's user outside Slurm, so that runs can overlap as they do on a node with
room for both.

The runner: a run that starts while the one before still serves takes the front door's
name ($ATS_WEB_SOCKET) when it listens, and the one before, ending after it (finishing
a request in flight), takes only its own socket and folder with it; a run killed
outright leaves its files, and the next one tidies them. The relay: it carries the front
door's socket to its own user's server, refuses a port that another user's server took,
and steps aside for a server that takes the socket itself.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
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


APP = """import time


def app(environ, start_response):
    if environ["PATH_INFO"] == "/slow":
        time.sleep(2)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [environ["PATH_INFO"].encode()]
"""


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
    runner = base / "ats-webservice"
    runner.write_text(fill(template("ats-webservice.tmpl"), {}))
    runner.chmod(0o755)
    src = base / "home" / "www" / "python" / "src"
    src.mkdir(parents=True)
    (src / "app.py").write_text(APP)
    for path in (src / "app.py", src, *src.parents):
        if path == base:
            break
        os.chown(path, TOOL, TOOL)
    yield base
    shutil.rmtree(base)


def _start(*command: str) -> subprocess.Popen[str]:
    # From / : the made-up users may not enter the checkout's folder (0700 in CI).
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd="/"
    )


def _get(path: Path, where: str = "/") -> bytes:
    """What a request over the Unix socket `path` gets back (b"" when it is closed or
    reset)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(5)
        client.connect(str(path))
        client.sendall(f"GET {where} HTTP/1.0\r\nHost: mytool.ts.example\r\n\r\n".encode())
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


def _run(place: Path, job: int) -> subprocess.Popen[str]:
    """A run of the tool's python3.11 service as Slurm's job `job` starts it, in a
    process group of its own (Slurm signals every process of a run)."""
    environment = {
        "HOME": str(place / "home"),
        "PATH": "/usr/bin:/bin",
        "ATS_WEB_SOCKET": str(place / "web" / "web.sock"),
        "SLURM_JOB_ID": str(job),
    }
    return subprocess.Popen(
        _as(TOOL, "env", "-i", *(f"{k}={v}" for k, v in environment.items()))
        + [str(place / "ats-webservice"), "python3.11"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        cwd=place,  # the tool's user may not enter the checkout's folder
    )


def _serving(place: Path, job: int) -> bool:
    name = place / "web" / "web.sock"
    try:
        return os.readlink(name) == f"web-{job}.sock" and _get(name).endswith(b"\r\n\r\n/")
    except OSError:
        return False


def test_a_new_run_takes_the_name_and_the_old_one_ending_leaves_it(place: Path) -> None:
    web = place / "web"
    first = _run(place, 101)
    runs = [first]
    try:
        wait_until(lambda: _serving(place, 101), 20, what="the first run serving")
        slow: list[bytes] = []
        request = threading.Thread(target=lambda: slow.append(_get(web / "web.sock", "/slow")))
        request.start()
        second = _run(place, 102)
        runs.append(second)
        wait_until(lambda: _serving(place, 102), 20, what="the second run taking the name")
        os.killpg(first.pid, signal.SIGTERM)  # as Slurm cancels a run
        request.join(10)
        assert slow and slow[0].endswith(b"/slow"), "the request in flight was cut"
        assert first.wait(10) == 0
        assert _serving(place, 102)
        assert sorted(os.listdir(web)) == ["private-102", "web-102.sock", "web.sock"]
        # Killed outright, a run leaves its files; the next one tidies them.
        os.killpg(second.pid, signal.SIGKILL)
        second.wait()
        assert "web-102.sock" in os.listdir(web)
        third = _run(place, 103)
        runs.append(third)
        wait_until(lambda: _serving(place, 103), 20, what="the third run serving")
        assert sorted(os.listdir(web)) == ["private-103", "web-103.sock", "web.sock"]
    finally:
        for run in runs:
            if run.poll() is None:
                os.killpg(run.pid, signal.SIGKILL)
                run.wait()
