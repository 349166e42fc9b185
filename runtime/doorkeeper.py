"""Bringing the front door to what it should be: Caddy's tool routes against the desired
ones (runtime/frontdoor.py says what a route is, runtime/caddy.py talks to Caddy).

`converge` reads Caddy's whole configuration once. When the part that is not the tools'
routes is not `base_config` — a Caddy restarted with an empty configuration, an older
page, another domain — or the tools' routes are not all before the fallbacks, or one
`@id` is there twice, the whole configuration is loaded again in one call, with every
desired route in it (each change through the API makes Caddy apply its whole
configuration again: after a restart, one load beats a put per tool). Otherwise each
route that is missing or differs is put, and each `tool-*` route nobody wants is
deleted. Every difference is one line naming the tool; with `fix=False` nothing is
changed (a reconcile's report). A second call changes nothing and says nothing.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from membership.records import WEB_SERVICE_JOB
from runtime.frontdoor import (
    PREFIX,
    SERVER,
    FrontDoorSettings,
    Route,
    base_config,
    describe,
    tool_route,
    with_routes,
)
from runtime.nodedoor import NodeDoors, upstream

log = logging.getLogger(__name__)


class CaddyLike(Protocol):
    def config(self) -> dict[str, Any]: ...

    def load(self, config: dict[str, Any]) -> None: ...

    def put_route(self, route: dict[str, Any]) -> None: ...

    def delete_route(self, tool: str) -> None: ...


def converge(
    caddy: CaddyLike, desired: Sequence[Route], settings: FrontDoorSettings, *, fix: bool = True
) -> list[str]:
    """Make Caddy's tool routes the desired ones; one line per difference found."""
    wanted = {route.id: route for route in desired}
    routes = {ident: tool_route(route, settings) for ident, route in wanted.items()}
    base = base_config(settings)
    config = caddy.config()
    present, rest = _split(config)
    by_id = {str(route.get("@id")): route for route in present or []}
    missing, changed, extra = [], [], sorted(set(by_id) - set(wanted))
    for ident in sorted(wanted):
        if ident not in by_id:
            missing.append(ident)
        elif by_id[ident] != routes[ident]:
            changed.append(ident)
    lines = [
        f"{wanted[i].tool}: no route at the front door ({describe(wanted[i])})" for i in missing
    ]
    lines += [
        f"{wanted[i].tool}: its route at the front door differs (to be {describe(wanted[i])})"
        for i in changed
    ]
    lines += [f"{i.removeprefix(PREFIX)}: a route at the front door, unwanted" for i in extra]
    counted = Counter(str(route.get("@id")) for route in present or [])
    twice = sorted(ident for ident, count in counted.items() if count > 1)
    whole = _whole_drift(config, present, rest, base, twice)
    if whole:
        lines.insert(0, whole)
        if fix:
            caddy.load(with_routes(base, list(routes.values())))
            log.info("front door: configuration loaded with %d tool routes", len(routes))
        return lines
    if fix:
        for ident in missing + changed:
            caddy.put_route(routes[ident])
        for ident in extra:
            caddy.delete_route(ident.removeprefix(PREFIX))
    return lines


def _split(config: dict[str, Any]) -> tuple[list[dict[str, Any]] | None, dict[str, Any]]:
    """The tools' routes at the head of the front server's routes (None when there is no
    front server), and the configuration without them."""
    try:
        routes = config["apps"]["http"]["servers"][SERVER]["routes"]
    except (KeyError, TypeError):
        return None, config
    if not isinstance(routes, list):
        return None, config
    head = 0
    while head < len(routes) and _is_tool_route(routes[head]):
        head += 1
    rest = with_routes(config, [])
    rest["apps"]["http"]["servers"][SERVER]["routes"] = routes[head:]
    return routes[:head], rest


def _is_tool_route(route: Any) -> bool:
    return isinstance(route, dict) and str(route.get("@id", "")).startswith(PREFIX)


def _whole_drift(
    config: dict[str, Any],
    present: list[dict[str, Any]] | None,
    rest: dict[str, Any],
    base: dict[str, Any],
    twice: list[str],
) -> str:
    """Why the whole configuration must be loaded again ("" when it need not)."""
    if not config:
        return "the front door has no configuration: the whole of it to load"
    if present is None:
        return f"the front door has no server {SERVER!r}: the whole configuration to load"
    if rest != base:
        return "the front door's configuration is not this one (settings, pages): to load"
    if twice:
        return f"the front door has a route twice ({', '.join(twice)}): the whole to load"
    return ""


def web_routes(
    store: Any, socket_root: str, stopped: Mapping[str, str], doors: NodeDoors | None = None
) -> list[Route]:
    """The route every tool of the chapter should have: to its web service while its job
    `webservice` runs — its socket on the front door's host, else the door of the node
    it runs on (`doors`: none, one host) — else the stopped page (a tool that may not
    run, `stopped`, too; and one whose node is not a known one)."""
    doors = doors or NodeDoors()
    services = {
        record.tool: record for record in store.tool_jobs() if record.name == WEB_SERVICE_JOB
    }
    routes = []
    for account in store.accounts("tool"):
        tool = account.owner
        job = services.get(tool)
        if job is None or job.state != "running" or job.status != "Running" or tool in stopped:
            routes.append(Route(tool, None))
            continue
        to = upstream(tool, job.node, socket_root, doors)
        on_node = to is not None and not to.startswith("unix/")
        routes.append(Route(tool, to, (job.node or "") if on_node else ""))
    return routes
