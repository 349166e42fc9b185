"""Converging the front door (runtime/doorkeeper.py) against an in-memory Caddy that
keeps its JSON as the admin API does: an empty Caddy loaded whole, routes put and
deleted one by one, drift told tool by tool and fixed once, nothing changed without
`fix`, and a configuration that is not this one (other settings, a route twice, a
route after the fallbacks) loaded whole again."""

from __future__ import annotations

import copy
import json
from typing import Any

from runtime.doorkeeper import converge
from runtime.frontdoor import FrontDoorSettings, Route, tool_route

DEV = FrontDoorSettings(
    domain="tools.test", https_port=8443, http_port=0, admin="127.0.0.1:9", storage="/d"
)


def front_routes(config: dict[str, Any]) -> list[dict[str, Any]]:
    routes: list[dict[str, Any]] = config["apps"]["http"]["servers"]["front"]["routes"]
    return routes


class FakeCaddy:
    """Caddy's admin API as converge uses it, keeping the JSON as Caddy does."""

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        self.stored: dict[str, Any] = copy.deepcopy(config or {})
        self.calls: list[str] = []

    def config(self) -> dict[str, Any]:
        return copy.deepcopy(self.stored)

    def load(self, config: dict[str, Any]) -> None:
        self.calls.append("load")
        self.stored = json.loads(json.dumps(config))

    def put_route(self, route: dict[str, Any]) -> None:
        self.calls.append(f"put {route['@id']}")
        routes = front_routes(self.stored)
        for index, present in enumerate(routes):
            if present.get("@id") == route["@id"]:
                routes[index] = copy.deepcopy(route)
                return
        routes.insert(0, copy.deepcopy(route))

    def delete_route(self, tool: str) -> None:
        self.calls.append(f"delete {tool}")
        routes = front_routes(self.stored)
        routes[:] = [r for r in routes if r.get("@id") != f"tool-{tool}"]


def test_an_empty_caddy_is_loaded_whole_then_nothing_is_done() -> None:
    caddy = FakeCaddy()
    desired = [Route("b", "unix//s/b/web.sock"), Route("a", None)]
    told = converge(caddy, desired, DEV)
    assert told[0].startswith("the front door has no configuration")
    assert told[1:] == [
        "a: no route at the front door (stopped)",
        "b: no route at the front door (running at unix//s/b/web.sock)",
    ]
    assert caddy.calls == ["load"]
    assert [r.get("@id") for r in front_routes(caddy.stored)][:2] == ["tool-b", "tool-a"]
    assert converge(caddy, desired, DEV) == []
    assert caddy.calls == ["load"]


def test_routes_are_put_and_deleted_one_by_one_and_reported_without_fix() -> None:
    caddy = FakeCaddy()
    converge(caddy, [Route("a", None), Route("old", None)], DEV)
    caddy.calls.clear()
    desired = [Route("a", "10.0.0.5:8000"), Route("new", None)]
    before = caddy.config()
    told = converge(caddy, desired, DEV, fix=False)
    assert caddy.config() == before and caddy.calls == []
    assert told == [
        "new: no route at the front door (stopped)",
        "a: its route at the front door differs (to be running at 10.0.0.5:8000)",
        "old: a route at the front door, unwanted",
    ]
    assert converge(caddy, desired, DEV) == told
    assert caddy.calls == ["put tool-new", "put tool-a", "delete old"]
    assert converge(caddy, desired, DEV) == []


def test_other_pages_or_a_twice_route_load_the_whole_again() -> None:
    other = FrontDoorSettings("tools.test", 8443, 0, "127.0.0.1:9", "/elsewhere")
    caddy = FakeCaddy()
    converge(caddy, [Route("a", None)], other)
    told = converge(caddy, [Route("a", None)], DEV)
    assert told == ["the front door's configuration is not this one (settings, pages): to load"]
    caddy.put_route({**tool_route(Route("a", None), DEV), "@id": "tool-a"})
    front_routes(caddy.stored).insert(0, tool_route(Route("a", None), DEV))
    told = converge(caddy, [Route("a", None)], DEV)
    assert told == ["the front door has a route twice (tool-a): the whole to load"]
    assert converge(caddy, [Route("a", None)], DEV) == []
    assert [r.get("@id") for r in front_routes(caddy.stored)].count("tool-a") == 1


def test_a_tool_route_after_the_fallbacks_loads_the_whole_again() -> None:
    caddy = FakeCaddy()
    converge(caddy, [], DEV)
    front_routes(caddy.stored).append(tool_route(Route("late", None), DEV))
    told = converge(caddy, [Route("late", None)], DEV)
    assert told[0].startswith("the front door's configuration is not this one")
    assert converge(caddy, [Route("late", None)], DEV) == []
