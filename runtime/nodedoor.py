"""Web services on other nodes: which upstream the front door takes for a tool's
service (`upstream`), and the configuration of the node door, the Caddy that hands the
front door's requests to the services running on one node (`config`). Pure:
runtime/doorkeeper.py uses the first at each pass, `ats host render` writes the second
for each node.

A web service listens on its Unix socket, SOCKET_ROOT/TOOL/web.sock, on the node its job
runs on. On the front door's own host (and whenever the cluster is that host alone) the
front door dials the socket. Every other node runs a node door with a static
configuration: it listens on the node's address at `[web] node_port` and dials
SOCKET_ROOT/NAME/web.sock for a request to NAME.DOMAIN, the name taken from the Host
header by a regular expression only a tool's name matches (lowercase letters, digits,
hyphens: no dot, slash or brace can reach the path); any other host gets a bare 404 and
nothing is dialled. It speaks plain HTTP: it is reached over the cluster's private
network, from the front door only (the node's firewall says so). The port is a
privileged one (81 by default), so while the node door is down no tool's job on the node
can listen there in its place. Like the front door, it deletes every header that could
carry a client's address, keeps no access log and drops addresses from its own log,
and has no admin API (nothing on the node can change it). It sets `X-Forwarded-Proto:
https`, as the visitor came through the front door's HTTPS. When the service does not
answer there, it answers 502 with `NODE_DOOR_HEADER`, and the front door shows the
tool's stopped page.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from runtime.frontdoor import (
    CLIENT_ADDRESS_HEADERS,
    HOSTNAME,
    NO_SERVICE,
    NODE_DOOR_HEADER,
    FrontDoorError,
    address_free_logs,
    tool_host,
)
from runtime.placement import socket_path

log = logging.getLogger(__name__)

DEFAULT_PORT = 81  # privileged: no tool's job can listen there
SERVER = "node"
_PATH = re.compile(r"^/[-/A-Za-z0-9_.]*$")  # no brace: a placeholder could hide in one
_ADDRESS = re.compile(r"^(?:[-A-Za-z0-9.]+|\[?[0-9A-Fa-f:.]+\]?)$")
_said: set[tuple[str, str]] = set()  # the unknown nodes already logged, per tool


@dataclass(frozen=True)
class NodeDoors:
    """Where the front door finds web services: each node's address (`[runtime] nodes`;
    empty: one host, the front door's), the node the front door runs on, the port of
    the other nodes' doors."""

    addresses: Mapping[str, str] = field(default_factory=dict)
    here: str = ""
    port: int = DEFAULT_PORT


def upstream(tool: str, node: str | None, socket_root: str, doors: NodeDoors) -> str | None:
    """The front door's upstream for the tool's web service running on `node`: its
    socket on the front door's own host (or with one host), else that node's door; None
    when the node is not one of `[runtime] nodes` (said once in the log, never guessed)."""
    if not doors.addresses or node == doors.here:
        return f"unix/{socket_path(socket_root, tool)}"
    address = doors.addresses.get(node or "")
    if address is None or not _ADDRESS.match(address):
        if (tool, node or "") not in _said:
            _said.add((tool, node or ""))
            why = "not in [runtime] nodes" if address is None else f"at {address!r}, no address"
            log.warning(
                "%s: its web service runs on %s, which is %s: it is shown as stopped",
                tool,
                node or "a node Slurm has not named",
                why,
            )
        return None
    return f"{_bracketed(address)}:{doors.port}"


def _bracketed(address: str) -> str:
    """An IPv6 address in brackets, as a dial address needs it."""
    return f"[{address.strip('[]')}]" if ":" in address else address


@dataclass(frozen=True)
class NodeDoorSettings:
    domain: str  # tools are at TOOL.DOMAIN
    address: str  # the node's address on the cluster's private network
    port: int
    socket_root: str  # [web] socket_root, the same on every node

    def __post_init__(self) -> None:
        if not HOSTNAME.match(self.domain):
            raise FrontDoorError(f"{self.domain!r} is not a domain name (lowercase, dotted)")
        if not _ADDRESS.match(self.address):
            raise FrontDoorError(f"the node's address {self.address!r} is not a host or address")
        if not 0 < self.port < 65536:
            raise FrontDoorError(f"the node door's port {self.port} is not a port")
        if not _PATH.match(self.socket_root):
            raise FrontDoorError(f"socket_root {self.socket_root!r} must be a plain absolute path")

    @property
    def listen(self) -> str:
        return f"{_bracketed(self.address)}:{self.port}"


def config(settings: NodeDoorSettings) -> dict[str, Any]:
    """The node door's whole configuration (for `caddy run --config`)."""
    dial = "unix/" + socket_path(settings.socket_root, "{http.regexp.tool.1}")
    proxy = {
        "handler": "reverse_proxy",
        "upstreams": [{"dial": dial}],
        "headers": {
            "request": {
                "delete": list(CLIENT_ADDRESS_HEADERS),
                "set": {"X-Forwarded-Proto": ["https"]},
            }
        },
    }
    server = {
        "listen": [settings.listen],
        "protocols": ["h1"],
        "automatic_https": {"disable": True},
        "routes": [
            {"match": [tool_host("tool", settings.domain)], "handle": [proxy], "terminal": True},
            {"handle": [{"handler": "static_response", "status_code": 404}], "terminal": True},
        ],
        # The service does not answer (no socket, nothing listening): said so that the
        # front door shows the tool's stopped page.
        "errors": {
            "routes": [
                {
                    "handle": [
                        {
                            "handler": "static_response",
                            "status_code": 502,
                            "headers": {NODE_DOOR_HEADER: [NO_SERVICE]},
                        }
                    ]
                }
            ]
        },
    }
    return {
        "admin": {"disabled": True, "config": {"persist": False}},
        "logging": address_free_logs(),
        "apps": {"http": {"servers": {SERVER: server}}},
    }
