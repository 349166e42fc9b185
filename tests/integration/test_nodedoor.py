"""Web services on another node, through the real Caddies (Debian's, run as user caddy
by devtools.devcaddy): a node door started from the configuration `ats host render`
writes (runtime/nodedoor.py), listening on 127.0.0.2 as on a node's private address,
with a socket root of its own holding a tool's echo server, and the front door given a
route to that node door, as `web_routes` makes it for a tool running there. Through
the front door the tool answers and sees neither the visitor's address nor any header
that could carry one; a tool with no socket on the node shows its stopped page, while a
tool's own 502 passes through; a host that is not a tool's name is refused at the node
door (404, or Go's 400 for a malformed Host) and dials nothing. Nothing of the machine's
/etc or trust store changes."""

from __future__ import annotations

import http.client
import json
import shutil
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from devtools.devcaddy import DevCaddy
from devtools.ports import free_port
from runtime import nodedoor
from runtime.frontdoor import Route
from tests.integration.frontdoor_site import DOMAIN, Door, running_door
from tests.integration.test_frontdoor import SPOOFED, VISITOR, Echo, Upstream, unix_upstream

ADDRESS = "127.0.0.2"  # the node's private address: any loopback address is this machine


class FailingEcho(Echo):
    """An echo whose /its-own-502 is the tool's own 502 (a server behind it failed)."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.path != "/its-own-502":
            super().do_GET()
            return
        body = b"the tool's own answer"
        self.send_response(502)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@dataclass
class Node:
    dev: DevCaddy
    port: int
    sockets: Path  # its socket root

    @property
    def upstream(self) -> str:
        return f"{ADDRESS}:{self.port}"

    def get(self, host: str) -> tuple[int, str]:
        """GET / at the node door itself, with `host` as the Host header."""
        connection = http.client.HTTPConnection(ADDRESS, self.port, timeout=10)
        try:
            connection.putrequest("GET", "/", skip_host=True)
            connection.putheader("Host", host)
            connection.endheaders()
            response = connection.getresponse()
            return response.status, response.read().decode()
        finally:
            connection.close()


def _listens(port: int) -> bool:
    try:
        socket.create_connection((ADDRESS, port), timeout=1).close()
        return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def door() -> Iterator[Door]:
    with running_door() as started:
        yield started


@pytest.fixture(scope="module")
def node(door: Door) -> Iterator[Node]:
    sockets = door.folder / "node-sockets"
    sockets.mkdir(mode=0o755)
    port = free_port()
    settings = nodedoor.NodeDoorSettings(
        domain=DOMAIN, address=ADDRESS, port=port, socket_root=str(sockets)
    )
    dev = DevCaddy(door.folder / "node-door")
    dev.start(nodedoor.config(settings), ready=lambda: _listens(port))
    try:
        yield Node(dev, port, sockets)
    finally:
        dev.stop()


@pytest.fixture(scope="module")
def faraway(node: Node) -> Iterator[Upstream]:
    upstream = unix_upstream(node.sockets / "faraway")
    upstream.server.RequestHandlerClass = FailingEcho
    yield upstream
    upstream.close()


def test_a_tool_on_another_node_answers_and_sees_no_visitor_address(
    door: Door, node: Node, faraway: Upstream
) -> None:
    door.converge(Route("faraway", node.upstream, "node2"))
    faraway.seen.clear()
    answer = door.get(f"faraway.{DOMAIN}", "/some/page?x=1", headers=SPOOFED)
    assert answer.status == 200, answer.body
    [saw] = faraway.seen
    assert saw["path"] == "/some/page?x=1"
    names = {name.lower() for name in saw["headers"]}
    assert not names & {name.lower() for name in SPOOFED}
    seen = json.dumps(saw)
    assert VISITOR not in seen and "127.0.0.1" not in seen and ADDRESS not in seen
    # What a tool behind the front door's own socket sees too: its host, and HTTPS.
    assert saw["headers"]["Host"] == f"faraway.{DOMAIN}:{door.settings.https_port}"
    assert saw["headers"]["X-Forwarded-Proto"] == "https"
    logged = (node.dev.log_folder / "caddy.out").read_text()
    assert VISITOR not in logged and "remote_ip" not in logged


def test_a_tool_without_its_socket_on_the_node_shows_its_stopped_page(
    door: Door, node: Node, faraway: Upstream
) -> None:
    door.converge(Route("absent", node.upstream, "node2"), Route("faraway", node.upstream))
    answer = door.get(f"absent.{DOMAIN}", "/")
    assert answer.status == 503
    assert "absent is not running" in answer.body
    assert node.get(f"absent.{DOMAIN}")[0] == 502  # what the node door said
    # The tool's own 502 is the tool's, not the stopped page.
    own = door.get(f"faraway.{DOMAIN}", "/its-own-502")
    assert (own.status, own.body) == (502, "the tool's own answer")
    logged = (node.dev.log_folder / "caddy.out").read_text()
    assert "remote_ip" not in logged and "127.0.0.1" not in logged


def test_a_node_door_that_is_down_shows_the_stopped_page(door: Door) -> None:
    door.converge(Route("unreached", f"{ADDRESS}:{free_port()}", "node3"))
    answer = door.get(f"unreached.{DOMAIN}", "/")
    assert answer.status == 503 and "unreached is not running" in answer.body


@pytest.mark.parametrize("label", ["My_Tool", "UPPER", "a_b", "-x", "x..y"])
def test_a_host_that_is_no_tools_name_dials_nothing(node: Node, label: str) -> None:
    trap = unix_upstream(node.sockets / label)  # where a looser match would dial
    try:
        status, body = node.get(f"{label}.{DOMAIN}")
        assert (status, body) == (404, "")
        assert node.get(f"{label}.other.test")[0] == 404
        assert trap.seen == []
    finally:
        trap.close()
        shutil.rmtree(node.sockets / label)


def test_a_malformed_host_is_refused_before_any_route(node: Node) -> None:
    trap = unix_upstream(node.sockets / "x")
    try:
        assert node.get(f"../x.{DOMAIN}")[0] == 400  # Go's HTTP server itself
        assert trap.seen == []
    finally:
        trap.close()
        shutil.rmtree(node.sockets / "x")
