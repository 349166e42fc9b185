"""A real front door for the tests: Debian's Caddy run as user caddy by
devtools.devcaddy with the product's whole configuration (`base_config`), its own
internal CA and free ports, in a folder of its own; `Door.get` fetches a page over HTTPS
the way curl's `--resolve` would, checking the certificate against that CA, and
`Door.converge` gives Caddy tools' routes as the jobs service does. `running_door`
starts one and, once it is stopped, checks that nothing of the machine's /etc or trust
store changed."""

from __future__ import annotations

import hashlib
import http.client
import shutil
import socket
import ssl
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from devtools.devcaddy import DevCaddy
from devtools.ports import free_port
from runtime.caddy import Caddy
from runtime.doorkeeper import converge
from runtime.frontdoor import FrontDoorSettings, Route, base_config
from tests.waiting import wait_until

DOMAIN = "tools.test"
# What the machine trusts and Debian's caddy package's own files: never touched.
WATCHED = (Path("/etc/ssl/certs"), Path("/usr/local/share/ca-certificates"), Path("/etc/caddy"))


def watched_files() -> dict[str, str]:
    found = {}
    for top in WATCHED:
        for path in sorted(top.rglob("*")) if top.exists() else []:
            if path.is_file():
                found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
            elif path.is_symlink():
                found[str(path)] = f"-> {path.readlink()}"
    return found


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: str


@dataclass
class Door:
    dev: DevCaddy
    settings: FrontDoorSettings
    caddy: Caddy
    folder: Path

    def get(self, host: str, path: str = "/", headers: dict[str, str] | None = None) -> Answer:
        """GET https://HOST:PORT/PATH, HOST resolved to 127.0.0.1 (curl's --resolve),
        the certificate checked against the internal CA's root."""
        context = ssl.create_default_context(cafile=str(self.dev.root_cert()))
        port = self.settings.https_port
        connection = http.client.HTTPSConnection(host, port, context=context, timeout=10)
        connection._create_connection = (  # type: ignore[attr-defined]
            lambda address, *rest, **named: socket.create_connection(
                ("127.0.0.1", port), *rest, **named
            )
        )
        try:
            connection.request("GET", path, headers=headers or {})
            response = connection.getresponse()
            body = response.read().decode()
            return Answer(response.status, dict(response.getheaders()), body)
        finally:
            connection.close()

    def converge(self, *routes: Route) -> list[str]:
        return converge(self.caddy, routes, self.settings)

    def answers(self) -> bool:
        """Whether the bare domain's page comes over HTTPS with a certificate of the CA."""
        try:
            return self.get(DOMAIN).status == 200
        except (OSError, ssl.SSLError):
            return False


@contextmanager
def running_door() -> Iterator[Door]:
    """A front door serving HTTPS (and plain HTTP, redirecting) on 127.0.0.1, with an
    access log; stopped and removed at the end."""
    if shutil.which("caddy") is None:
        pytest.fail("caddy is not installed: scripts/setup installs Debian's caddy", pytrace=False)
    before = watched_files()
    folder = Path(tempfile.mkdtemp(prefix="ats-frontdoor-"))
    folder.chmod(0o711)  # caddy reaches its folders and the sockets' through it
    dev = DevCaddy(folder / "caddy")
    settings = FrontDoorSettings(
        domain=DOMAIN,
        https_port=free_port(),
        http_port=free_port(),
        admin=f"127.0.0.1:{free_port()}",
        storage=str(dev.storage),
        log_file=str(dev.log_folder / "access.log"),
        listen_host="127.0.0.1",
    )
    started = time.monotonic()
    dev.start(base_config(settings))
    print(f"caddy's admin API answered {time.monotonic() - started:.3f} s after its start")
    door = Door(dev, settings, Caddy(dev.admin_url()), folder)
    try:
        # The internal CA signs the wildcard certificate just after the start.
        wait_until(door.answers, 10, what="the front door's HTTPS")
        yield door
    finally:
        dev.stop()
        shutil.rmtree(folder, ignore_errors=True)
    assert watched_files() == before
