"""Web services on other nodes (runtime/nodedoor.py): which upstream each tool's route
takes (`web_routes` with the cluster's nodes), the front door's route to a node door,
and the node door's configuration as `ats host render` writes it. Tested through the
real Caddy in tests/integration/test_nodedoor.py."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest

from membership.store import Store
from runtime.doorkeeper import converge, web_routes
from runtime.frontdoor import (
    CLIENT_ADDRESS_HEADERS,
    NODE_DOOR_HEADER,
    FrontDoorError,
    FrontDoorSettings,
    Route,
    describe,
    tool_route,
)
from runtime.nodedoor import DEFAULT_PORT, NodeDoors, NodeDoorSettings, config, upstream
from tests.unit.test_doorkeeper import FakeCaddy

ROOT = "/run/ats-web"
DOORS = NodeDoors({"tools1": "tools1", "tools2": "10.0.0.12", "tools3": "fd00::13"}, "tools1", 81)
SETTINGS = FrontDoorSettings("tools.test", 8443, 0, "127.0.0.1:9", "/d")
NODE = NodeDoorSettings(domain="tools.test", address="10.0.0.12", port=81, socket_root=ROOT)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store(tmp_path / "ats.sqlite")
    for uid, tool in enumerate(("here", "there", "six", "lost", "resting", "nowhere")):
        store.record_account(tool, "tool", tool, 6001 + uid)
    running = {"state": "running", "status": "Running"}
    for tool, node in (("here", "tools1"), ("there", "tools2"), ("six", "tools3")):
        store.put_tool_job(tool, "webservice", "{}")
        store.update_tool_job(tool, "webservice", 1, {**running, "node": node})
    store.put_tool_job("lost", "webservice", "{}")
    store.update_tool_job("lost", "webservice", 1, {**running, "node": "tools9"})
    store.put_tool_job("resting", "webservice", "{}")
    return store


def test_with_one_host_every_service_is_its_socket(store: Store) -> None:
    routes = {route.tool: route for route in web_routes(store, ROOT, {})}
    assert routes["there"] == Route("there", f"unix/{ROOT}/there/web.sock")
    assert routes["lost"].upstream == f"unix/{ROOT}/lost/web.sock"  # no nodes: no other
    assert routes["resting"].upstream is None and routes["nowhere"].upstream is None


def test_with_nodes_a_service_is_reached_on_its_node(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    routes = {route.tool: route for route in web_routes(store, ROOT, {}, DOORS)}
    assert routes["here"] == Route("here", f"unix/{ROOT}/here/web.sock")  # the front door's
    assert routes["there"] == Route("there", "10.0.0.12:81", "tools2")
    assert routes["six"] == Route("six", "[fd00::13]:81", "tools3")
    assert routes["resting"] == Route("resting", None)
    # A node not in the list: the stopped page and one line in the log, not a guess.
    assert routes["lost"] == Route("lost", None)
    assert "lost: its web service runs on tools9, which is not in [runtime] nodes" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        web_routes(store, ROOT, {}, DOORS)
    assert "tools9" not in caplog.text  # said once
    # A tool that may not run is stopped wherever it runs.
    stopped = web_routes(store, ROOT, {"there": "disabled"}, DOORS)
    assert Route("there", None) in stopped


def test_a_run_not_yet_on_a_node_is_never_guessed(caplog: pytest.LogCaptureFixture) -> None:
    assert upstream("mytool", None, ROOT, DOORS) is None
    # A name no dial address can be (the route would be refused, and the whole pass).
    odd = NodeDoors({"tools_4": "tools_4"}, "tools1")
    assert upstream("mytool", "tools_4", ROOT, odd) is None
    assert "runs on tools_4, which is at 'tools_4', no address" in caplog.text
    assert upstream("mytool", None, ROOT, NodeDoors()) == f"unix/{ROOT}/mytool/web.sock"
    assert upstream("mytool", "tools1", ROOT, DOORS) == f"unix/{ROOT}/mytool/web.sock"
    assert NodeDoors().port == DEFAULT_PORT < 1024


def test_reconcile_tells_a_route_to_the_wrong_node(store: Store) -> None:
    caddy = FakeCaddy()
    converge(caddy, [Route("there", "10.0.0.13:81", "tools3")], SETTINGS)
    desired = [r for r in web_routes(store, ROOT, {}, DOORS) if r.tool == "there"]
    assert converge(caddy, desired, SETTINGS, fix=False) == [
        "there: its route at the front door differs (to be running on tools2 at 10.0.0.12:81)"
    ]
    assert describe(Route("here", f"unix/{ROOT}/here/web.sock")).startswith("running at unix/")


def test_a_route_to_a_node_door_turns_its_no_service_answer_into_the_stopped_page() -> None:
    route = tool_route(Route("there", "10.0.0.12:81", "tools2"), SETTINGS)
    [proxy] = route["handle"]
    assert proxy["upstreams"] == [{"dial": "10.0.0.12:81"}]
    assert proxy["headers"]["request"]["delete"] == list(CLIENT_ADDRESS_HEADERS)
    [answer] = proxy["handle_response"]
    assert answer["match"] == {"status_code": [502], "headers": {NODE_DOOR_HEADER: ["no-service"]}}
    assert answer["routes"] == [{"handle": [{"handler": "error", "status_code": 502}]}]
    socket = tool_route(Route("here", f"unix/{ROOT}/here/web.sock"), SETTINGS)
    assert "handle_response" not in socket["handle"][0]  # a socket's failure is an error


def test_the_node_door_dials_only_a_tools_socket() -> None:
    whole = config(NODE)
    assert whole["admin"] == {"disabled": True, "config": {"persist": False}}
    server = whole["apps"]["http"]["servers"]["node"]
    assert server["listen"] == ["10.0.0.12:81"] and server["protocols"] == ["h1"]
    assert server["automatic_https"] == {"disable": True} and "logs" not in server
    tool, fallback = server["routes"]
    host = tool["match"][0]["vars_regexp"]["{http.request.host}"]
    assert host["name"] == "tool"
    pattern = host["pattern"]
    for good in ("mytool", "a", "my-tool2"):
        assert re.fullmatch(pattern, f"{good}.tools.test")
    for bad in ("My_Tool", "MYTOOL", "..", "a.b", "x/..", "{x}", "-a", "a-", "", "a" * 33):
        assert not re.fullmatch(pattern, f"{bad}.tools.test"), bad
    assert not re.fullmatch(pattern, "mytool.tools.test.evil.example")
    [proxy] = tool["handle"]
    assert proxy["upstreams"] == [{"dial": f"unix/{ROOT}/{{http.regexp.tool.1}}/web.sock"}]
    assert proxy["headers"]["request"] == {
        "delete": list(CLIENT_ADDRESS_HEADERS),
        "set": {"X-Forwarded-Proto": ["https"]},
    }
    assert fallback == {
        "handle": [{"handler": "static_response", "status_code": 404}],
        "terminal": True,
    }
    [error] = server["errors"]["routes"]
    assert error["handle"][0]["status_code"] == 502
    assert error["handle"][0]["headers"] == {NODE_DOOR_HEADER: ["no-service"]}
    dropped = json.dumps(whole["logging"])
    assert '"request>remote_ip"' in dropped and '"request>headers"' in dropped
    assert "access" not in whole["logging"]["logs"]


def test_the_node_door_listens_on_an_ipv6_address_in_brackets() -> None:
    six = NodeDoorSettings(domain="tools.test", address="fd00::13", port=81, socket_root=ROOT)
    assert config(six)["apps"]["http"]["servers"]["node"]["listen"] == ["[fd00::13]:81"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("domain", "Tools Test"),
        ("address", "10.0.0.12/24"),
        ("port", 0),
        ("socket_root", "/run/{http.request.host}"),
        ("socket_root", "run/ats-web"),
    ],
)
def test_node_door_settings_that_cannot_be_are_refused(field: str, value: object) -> None:
    values: dict[str, object] = {
        "domain": "tools.test",
        "address": "10.0.0.12",
        "port": 81,
        "socket_root": ROOT,
        field: value,
    }
    with pytest.raises(FrontDoorError):
        NodeDoorSettings(**values)  # type: ignore[arg-type]
