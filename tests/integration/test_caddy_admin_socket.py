"""The front door's admin API on a Unix socket (`[web] admin = "unix//PATH"`): the jobs
service configures the real Caddy through it, and a user other than Caddy's (a tool's
job on the same host) cannot even connect, where any local process reaches a TCP port."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.caddy import Caddy, CaddyError
from runtime.frontdoor import FrontDoorSettings, Route, base_config, tool_route
from tests.waiting import wait_until

NOBODY = 65534


@pytest.fixture
def admin_socket() -> Iterator[Path]:
    """A Caddy whose admin API listens only on a socket in a folder anyone may enter
    (so that only the socket's own mode keeps others out)."""
    folder = Path(tempfile.mkdtemp(prefix="ats-caddy-admin-"))
    folder.chmod(0o755)
    socket_path = folder / "admin.sock"
    config = folder / "caddy.json"
    admin = {"listen": f"unix/{socket_path}", "origins": ["localhost"]}  # as docs/runtime.md
    storage = {"module": "file_system", "root": str(folder / "storage")}
    config.write_text(json.dumps({"admin": admin, "storage": storage}))
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(folder),
        "XDG_CONFIG_HOME": str(folder / "config"),
        "XDG_DATA_HOME": str(folder / "data"),
    }
    caddy = subprocess.Popen(
        ["caddy", "run", "--config", str(config)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(folder / "caddy.log").open("wb"),
        start_new_session=True,
    )
    try:
        wait_until(socket_path.exists, 20, what="Caddy's admin socket")
        yield socket_path
    finally:
        caddy.terminate()
        caddy.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


def test_the_jobs_service_configures_caddy_through_its_socket(admin_socket: Path) -> None:
    admin = f"unix/{admin_socket}"
    caddy = Caddy(admin)
    assert caddy.alive()
    settings = FrontDoorSettings(
        domain="ts.example",
        https_port=18443,
        http_port=0,
        listen_host="127.0.0.1",
        storage=str(admin_socket.parent / "storage"),
        admin=admin,
    )
    caddy.load(base_config(settings))
    caddy.put_route(tool_route(Route("citation-bot", None), settings))
    assert set(caddy.routes()) == {"tool-citation-bot"}
    assert caddy.config()["admin"]["listen"] == admin
    caddy.delete_route("citation-bot")
    assert caddy.routes() == {}


def test_another_user_cannot_reach_the_admin_api(admin_socket: Path) -> None:
    connect = (
        "import socket, sys\n"
        "s = socket.socket(socket.AF_UNIX)\n"
        "try:\n"
        "    s.connect(sys.argv[1])\n"
        "except PermissionError:\n"
        "    print('refused')\n"
        "else:\n"
        "    print('connected')\n"
    )
    as_nobody = ["setpriv", "--reuid", str(NOBODY), "--regid", str(NOBODY), "--clear-groups"]
    done = subprocess.run(
        [*as_nobody, sys.executable, "-I", "-c", connect, str(admin_socket)],
        capture_output=True,
        text=True,
        cwd="/",
        timeout=30,
    )
    assert done.stdout.strip() == "refused", done.stdout + done.stderr
    # Caddy's own user (here root, which started it) still reaches it.
    assert Caddy(f"unix/{admin_socket}").alive()


def test_a_socket_nothing_listens_on_is_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(CaddyError, match="cannot be reached: is Caddy running"):
        Caddy(f"unix/{tmp_path / 'nothing.sock'}").config()
