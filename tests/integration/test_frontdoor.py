"""The front door with the real Caddy (Debian's, run as user caddy by devtools.devcaddy,
one for the module, its own internal CA): a tool's web service on a Unix socket that only
the caddy group may reach answers at https://TOOL.DOMAIN/; no visitor's address reaches
it or the logs, whatever headers the visitor sends (and Caddy's default, shown, would
send one); a stopped tool, a tool whose socket is gone, an unknown tool and the bare
domain get their pages; DOMAIN/TOOL/… redirects; a Caddy restarted empty is brought
back by `converge`, whose second call finds nothing; nothing of the machine's /etc or
trust store changes."""

from __future__ import annotations

import http.client
import http.server
import json
import pwd
import shutil
import socket
import socketserver
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from devtools.ports import free_port
from runtime.caddy import CaddyError
from runtime.doorkeeper import converge
from runtime.frontdoor import Route, tool_route
from tests.integration.frontdoor_site import DOMAIN, Door, running_door
from tests.waiting import wait_until

VISITOR = "203.0.113.7"
SPOOFED = {
    "X-Forwarded-For": VISITOR,
    "X-Real-IP": VISITOR,
    "Forwarded": f"for={VISITOR};proto=https",
    "X-Client-IP": VISITOR,
    "True-Client-IP": VISITOR,
    "CF-Connecting-IP": VISITOR,
    "X-Forwarded": f"for={VISITOR}",
}


class Echo(http.server.BaseHTTPRequestHandler):
    """Answers with what it saw: path, headers and the peer."""

    seen: list[dict[str, Any]]

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        saw = {
            "path": self.path,
            "headers": dict(self.headers.items()),
            "peer": self.client_address,
        }
        self.server.seen.append(saw)  # type: ignore[attr-defined]
        body = json.dumps(saw).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


class UnixEcho(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class TcpEcho(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


@dataclass
class Upstream:
    server: socketserver.BaseServer
    address: str  # as a Route's upstream
    seen: list[dict[str, Any]] = field(default_factory=list)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def serve(server: socketserver.BaseServer, address: str) -> Upstream:
    upstream = Upstream(server, address)
    server.seen = upstream.seen  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return upstream


def unix_upstream(folder: Path) -> Upstream:
    """An echo on FOLDER/web.sock, FOLDER root:caddy 0750 and the socket 0660: the front
    door reaches it through its group, other users cannot."""
    folder.mkdir(parents=True)
    shutil.chown(folder, "root", "caddy")
    folder.chmod(0o750)
    path = folder / "web.sock"
    server = UnixEcho(str(path), Echo)
    shutil.chown(path, "root", "caddy")
    path.chmod(0o660)
    return serve(server, f"unix/{path}")


@pytest.fixture(scope="module")
def door() -> Iterator[Door]:
    with running_door() as started:
        yield started


@pytest.fixture(scope="module")
def mytool(door: Door) -> Iterator[Upstream]:
    upstream = unix_upstream(door.folder / "sockets" / "mytool")
    yield upstream
    upstream.close()


def test_caddy_runs_as_caddy_with_the_configuration_in_its_folder(door: Door) -> None:
    state = door.dev.running()
    assert state is not None
    status = Path(f"/proc/{state.pid}/status").read_text()
    uids = next(line.split()[1:] for line in status.splitlines() if line.startswith("Uid:"))
    assert set(map(int, uids)) == {pwd.getpwnam("caddy").pw_uid}
    command = Path(f"/proc/{state.pid}/cmdline").read_bytes().split(b"\0")
    assert str(door.dev.config_file).encode() in command
    assert door.caddy.alive()


def test_a_running_tool_answers_through_the_front_door(door: Door, mytool: Upstream) -> None:
    door.converge(Route("mytool", mytool.address))
    answer = door.get(f"mytool.{DOMAIN}", "/some/page?x=1")
    assert answer.status == 200
    assert json.loads(answer.body)["path"] == "/some/page?x=1"


def test_no_visitor_address_reaches_the_tool_nor_the_logs(door: Door, mytool: Upstream) -> None:
    door.converge(Route("mytool", mytool.address))
    mytool.seen.clear()
    answer = door.get(f"mytool.{DOMAIN}", "/private", headers=SPOOFED)
    assert answer.status == 200
    [saw] = mytool.seen
    names = {name.lower() for name in saw["headers"]}
    assert "x-forwarded-for" not in names
    assert not names & {name.lower() for name in SPOOFED}
    assert VISITOR not in json.dumps(saw)
    assert "127.0.0.1" not in json.dumps(saw)  # the visitor's own address either
    assert saw["headers"]["X-Forwarded-Proto"] == "https"  # what a tool may know
    access = wait_until(lambda: _logged(door, "/private"), 5, what="the access log's line")
    assert VISITOR not in access and "127.0.0.1" not in access
    assert "remote_ip" not in access and "headers" not in json.loads(access)["request"]
    assert VISITOR not in (door.dev.log_folder / "caddy.out").read_text()


def _logged(door: Door, uri: str) -> str:
    log = Path(door.settings.log_file)
    lines = log.read_text().splitlines() if log.exists() else []
    return next((line for line in lines if f'"uri":"{uri}"' in line), "")


def test_caddy_by_itself_would_tell_the_tool_the_visitor_address(
    door: Door, mytool: Upstream
) -> None:
    """Why every tool's route deletes headers: a plain reverse_proxy adds the visitor's
    address as X-Forwarded-For (a client's own value replaced, as no proxy is trusted) and
    passes X-Real-IP and Forwarded through as they came."""
    door.converge()
    plain = {
        "@id": "tool-plain",
        "match": [{"host": [f"plain.{DOMAIN}"]}],
        "handle": [{"handler": "reverse_proxy", "upstreams": [{"dial": mytool.address}]}],
        "terminal": True,
    }
    door.caddy.put_route(plain)
    mytool.seen.clear()
    try:
        assert door.get(f"plain.{DOMAIN}", "/", headers=SPOOFED).status == 200
    finally:
        assert door.converge() == ["plain: a route at the front door, unwanted"]
    headers = mytool.seen[0]["headers"]
    assert headers["X-Forwarded-For"] == "127.0.0.1"
    assert headers["X-Real-Ip"] == VISITOR and VISITOR in headers["Forwarded"]


def test_a_tool_on_another_node_is_reached_by_host_and_port(door: Door) -> None:
    upstream = serve(TcpEcho(("127.0.0.1", free_port()), Echo), "")
    upstream.address = f"127.0.0.1:{upstream.server.server_address[1]}"
    try:
        door.converge(Route("remote", upstream.address))
        answer = door.get(f"remote.{DOMAIN}", "/", headers=SPOOFED)
        assert answer.status == 200
        assert VISITOR not in answer.body and "X-Forwarded-For" not in answer.body
    finally:
        upstream.close()


def test_a_stopped_tool_shows_its_page(door: Door) -> None:
    door.converge(Route("resting", None))
    answer = door.get(f"resting.{DOMAIN}", "/anything")
    assert answer.status == 503
    assert "resting is not running" in answer.body
    assert "toolforge webservice start" in answer.body
    assert answer.headers["Content-Type"] == "text/html; charset=utf-8"


def test_a_tool_whose_socket_is_gone_shows_the_stopped_page(door: Door) -> None:
    upstream = unix_upstream(door.folder / "sockets" / "fleeting")
    door.converge(Route("fleeting", upstream.address))
    assert door.get(f"fleeting.{DOMAIN}").status == 200
    upstream.close()
    Path(upstream.address.removeprefix("unix/")).unlink()
    answer = door.get(f"fleeting.{DOMAIN}")
    assert answer.status == 503
    assert "fleeting is not running" in answer.body


def test_an_unknown_tool_and_the_bare_domain(door: Door) -> None:
    door.converge()
    unknown = door.get(f"nosuchtool.{DOMAIN}", "/x")
    assert unknown.status == 404
    assert f"no tool at <bdi>nosuchtool.{DOMAIN}</bdi>." in unknown.body
    assert f'href="https://{DOMAIN}/"' in unknown.body
    index = door.get(DOMAIN)
    assert index.status == 200 and f"https://TOOL.{DOMAIN}/" in index.body
    assert door.get(DOMAIN, "/not a tool/".replace(" ", "%20")).status == 404


@pytest.mark.parametrize(
    ("path", "location"),
    [
        ("/mytool/some/path?q=1", "/some/path?q=1"),
        ("/mytool/some/path", "/some/path"),
        ("/mytool", "/"),
        ("/mytool?q=1", "/?q=1"),
        ("/mytool/", "/"),
    ],
)
def test_the_domain_with_a_tool_path_redirects_to_the_tool(
    door: Door, path: str, location: str
) -> None:
    answer = door.get(DOMAIN, path)
    assert answer.status == 301
    port = door.settings.https_port
    assert answer.headers["Location"] == f"https://mytool.{DOMAIN}:{port}{location}"


def test_plain_http_redirects_to_https(door: Door) -> None:
    port = door.settings.http_port
    connection = http.client.HTTPConnection(f"mytool.{DOMAIN}", port, timeout=10)
    connection._create_connection = (  # type: ignore[attr-defined]
        lambda address, *rest, **named: socket.create_connection(
            ("127.0.0.1", port), *rest, **named
        )
    )
    try:
        connection.request("GET", "/a/b?c=1")
        response = connection.getresponse()
    finally:
        connection.close()
    assert response.status == 301
    https = door.settings.https_port
    assert response.getheader("Location") == f"https://mytool.{DOMAIN}:{https}/a/b?c=1"


def test_what_caddy_refuses_is_one_line(door: Door) -> None:
    broken = {"@id": "tool-broken", "handle": [{"handler": "no_such_handler"}]}
    with pytest.raises(CaddyError) as refused:
        door.caddy.put_route(broken)
    said = str(refused.value)
    # Caddy answers 500 for a configuration it cannot load, and keeps the one it had.
    assert said.startswith("Caddy refused PUT /config/apps/http/servers/front/routes/0: 500 ")
    assert "unknown module: http.handlers.no_such_handler" in said and "\n" not in said
    assert "tool-broken" not in door.caddy.routes()
    assert door.get(DOMAIN).status == 200


def test_put_route_replaces_and_delete_route_removes(door: Door, mytool: Upstream) -> None:
    door.converge(Route("mytool", mytool.address))
    door.caddy.put_route(tool_route(Route("mytool", None), door.settings))
    assert list(door.caddy.routes()) == ["tool-mytool"]
    assert door.get(f"mytool.{DOMAIN}").status == 503
    door.caddy.delete_route("mytool")
    door.caddy.delete_route("mytool")  # nothing left: nothing to do
    assert door.caddy.routes() == {}
    assert door.get(f"mytool.{DOMAIN}").status == 404


def test_drift_is_told_tool_by_tool_and_fixed_once(door: Door, mytool: Upstream) -> None:
    door.converge(Route("mytool", mytool.address), Route("gone", None))
    desired = [Route("mytool", None), Route("newtool", None)]
    told = converge(door.caddy, desired, door.settings, fix=False)
    assert told == [
        "newtool: no route at the front door (stopped)",
        "mytool: its route at the front door differs (to be stopped)",
        "gone: a route at the front door, unwanted",
    ]
    assert set(door.caddy.routes()) == {"tool-mytool", "tool-gone"}  # nothing changed
    assert converge(door.caddy, desired, door.settings) == told
    assert converge(door.caddy, desired, door.settings) == []
    assert set(door.caddy.routes()) == {"tool-mytool", "tool-newtool"}


def test_a_caddy_restarted_empty_is_brought_back(door: Door, mytool: Upstream) -> None:
    desired = [Route("mytool", mytool.address), Route("resting", None)]
    door.converge(*desired)
    door.dev.stop()
    assert not door.caddy.alive()
    with pytest.raises(CaddyError, match="cannot be reached"):
        door.caddy.config()
    door.dev.start({"admin": {"listen": door.settings.admin}})
    assert door.caddy.config() == {"admin": {"listen": door.settings.admin}}
    told = door.converge(*desired)
    assert told[0] == "the front door has no server 'front': the whole configuration to load"
    assert told[1:] == [
        "mytool: no route at the front door (running at " + mytool.address + ")",
        "resting: no route at the front door (stopped)",
    ]
    assert door.converge(*desired) == []
    wait_until(door.answers, 10, what="the front door's HTTPS again")
    assert door.get(f"mytool.{DOMAIN}").status == 200
    assert door.get(f"resting.{DOMAIN}").status == 503
