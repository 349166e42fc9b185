"""The front door's configuration: one Caddy serving every tool's web service at
`https://TOOL.DOMAIN/`, as the JSON Caddy's admin API takes (pure; runtime/caddy.py
sends it, runtime/doorkeeper.py converges to it).

`base_config` is the whole configuration without any tool: the admin API's address,
Caddy's storage, the logs, TLS (the chapter's certificate files, or Caddy's internal CA
for development, never installed into the machine's trust store) and one HTTPS server,
`front`, whose routes end with the fallbacks — `DOMAIN/TOOL/…` answers 301 to
`https://TOOL.DOMAIN/…` (path and query kept), the bare domain's `/` a small index page,
anything else a 404 page. A tool's route (`tool_route`, `@id` `tool-NAME`) goes before
the fallbacks: a running tool's proxies to its upstream (`unix//PATH` or `host:port`); a
stopped tool's only names the tool in the variable `ats_stopped` and lets the request go
on to the fallbacks, where the "stopped" page answers 503 (one for every tool, the name
a placeholder, so a tool's route stays a few hundred bytes whatever the languages). When
a running tool's upstream does not answer (the socket gone, nothing listening), the
server's error routes show the same page; so they do when the upstream is another
node's door (runtime/nodedoor.py) that answers it has no such service (502 with
`NODE_DOOR_HEADER`), which the route turns back into an error. Every page is
runtime/doorpages.py's, in the visitor's language.

Privacy: no visitor's address reaches a tool or a log. Caddy's reverse_proxy replaces a
client's X-Forwarded-For with the visitor's address (it trusts no proxy unless
`trusted_proxies` says so) and passes every other header through; the route deletes
X-Forwarded-For and every header that carries a client address (`CLIENT_ADDRESS_HEADERS`)
in the handler's `headers.request`, which Caddy applies after setting its own. Access
logs (only with a `log_file`) and Caddy's own log go through a filter that drops the
remote address and port and the request's headers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from policies.errors import Refusal
from policies.message_format import DEFAULT_LANGUAGE
from policies.requests import TOOL_NAME
from runtime import doorpages as pages
from runtime.doorpages import Raw, language_route, localized

SERVER = "front"
PREFIX = "tool-"  # a tool route's @id is PREFIX + the tool's name
ACCESS_LOGGER = "front"  # the access log's name (Caddy logs it as http.log.access.front)
STOPPED_VAR = "ats_stopped"  # a stopped tool's route sets it to the tool's name
# A node door's answer when the tool's service does not answer there: 502 with this
# header (a tool's own 502 passes through as it is).
NODE_DOOR_HEADER = "Ats-Node-Door"
NO_SERVICE = "no-service"
# Every header in which a client or a proxy before us may name a client's address.
CLIENT_ADDRESS_HEADERS = (
    "X-Forwarded-For",
    "X-Forwarded",
    "Forwarded",
    "Forwarded-For",
    "X-Real-IP",
    "X-Client-IP",
    "Client-IP",
    "True-Client-IP",
    "CF-Connecting-IP",
    "Fastly-Client-IP",
    "X-Cluster-Client-IP",
    "X-Original-Forwarded-For",
    "X-Originating-IP",
    "X-Remote-IP",
    "X-Remote-Addr",
    "X-ProxyUser-Ip",
    "Via",
)
# What the log filter drops: the visitor's address and port wherever Caddy writes them
# (the access log's request, the admin API's lines), and every request header.
LOG_FIELDS_DROPPED = (
    "request>remote_ip",
    "request>remote_port",
    "request>client_ip",
    "request>headers",
    "remote_ip",
    "remote_port",
)
# A tool's name in Caddy's (RE2) regular expressions: policies.requests.TOOL_NAME.
_NAME = r"[a-z](?:[-a-z0-9]{0,30}[a-z0-9])?"
_ONLY = rf"^({_NAME})$"
_LABEL = r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?"
HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})+$")
_UPSTREAM = re.compile(r"^(?:unix//\S+|[A-Za-z0-9.-]+:\d{1,5}|\[[0-9A-Fa-f:.]+\]:\d{1,5})$")


class FrontDoorError(Refusal, ValueError):
    """The front door's settings or a route cannot be: says which, in one line."""


@dataclass(frozen=True)
class FrontDoorSettings:
    domain: str  # tools are at TOOL.DOMAIN
    https_port: int
    http_port: int  # 0: no plain HTTP; else a server there redirects to HTTPS
    admin: str  # the admin API: "127.0.0.1:PORT", or "unix//PATH" (runtime/caddy.py)
    storage: str  # Caddy's data folder (its certificates, the internal CA)
    tls_cert: str = ""  # the chapter's certificate (*.DOMAIN and DOMAIN) and key files;
    tls_key: str = ""  # both empty: Caddy's internal CA, for development
    log_file: str = ""  # the access log; "" for none
    listen_host: str = ""  # the address the servers listen on; "" for every address

    def __post_init__(self) -> None:
        if not HOSTNAME.match(self.domain):
            raise FrontDoorError(f"{self.domain!r} is not a domain name (lowercase, dotted)")
        for name, port in (("https_port", self.https_port), ("http_port", self.http_port)):
            if not 0 <= port <= 65535 or (name == "https_port" and port == 0):
                raise FrontDoorError(f"{name} {port} is not a port")
        if bool(self.tls_cert) != bool(self.tls_key):
            raise FrontDoorError("tls_cert and tls_key go together: give both, or neither")
        if not self.admin or not self.storage:
            raise FrontDoorError("the front door needs an admin address and a storage folder")

    def https_origin(self, host: str) -> str:
        """`https://HOST` with the port when it is not 443."""
        return f"https://{host}" if self.https_port == 443 else f"https://{host}:{self.https_port}"


@dataclass(frozen=True)
class Route:
    tool: str
    upstream: str | None  # "unix//PATH" or "host:port"; None for a stopped tool
    node: str = ""  # the node it runs on, when another's (said in drift lines)

    @property
    def id(self) -> str:
        return route_id(self.tool)


def route_id(tool: str) -> str:
    """The `@id` of a tool's route."""
    return PREFIX + tool


# -- the whole configuration -------------------------------------------------------


def base_config(settings: FrontDoorSettings) -> dict[str, Any]:
    """Caddy's whole configuration, with no tool's route yet."""
    servers: dict[str, Any] = {SERVER: _front(settings)}
    if settings.http_port:
        servers["plain"] = _plain(settings)
    http: dict[str, Any] = {"https_port": settings.https_port, "servers": servers}
    if settings.http_port:
        http["http_port"] = settings.http_port
    apps: dict[str, Any] = {"http": http, "tls": _tls(settings)}
    if not settings.tls_cert:
        apps["pki"] = {"certificate_authorities": {"local": {"install_trust": False}}}
    admin: dict[str, Any] = {"listen": settings.admin}
    if settings.admin.startswith("unix/"):
        # On a socket Caddy allows no Host by default; the client says "localhost".
        admin["origins"] = ["localhost"]
    return {
        "admin": admin,
        "storage": {"module": "file_system", "root": settings.storage},
        "logging": _logging(settings),
        "apps": apps,
    }


def with_routes(config: dict[str, Any], routes: list[dict[str, Any]]) -> dict[str, Any]:
    """`config` (a `base_config`) with tool routes placed before its own."""
    http = config["apps"]["http"]
    front = http["servers"][SERVER]
    servers = {**http["servers"], SERVER: {**front, "routes": [*routes, *front["routes"]]}}
    return {**config, "apps": {**config["apps"], "http": {**http, "servers": servers}}}


def _tls(settings: FrontDoorSettings) -> dict[str, Any]:
    # Automatic HTTPS is off on every server (it would manage a certificate per tool's
    # host at each change): the certificates are named here, one wildcard for all tools.
    if settings.tls_cert:
        files = [{"certificate": settings.tls_cert, "key": settings.tls_key}]
        return {"certificates": {"load_files": files}}
    names = [settings.domain, f"*.{settings.domain}"]
    return {
        "certificates": {"automate": names},
        "automation": {"policies": [{"subjects": names, "issuers": [{"module": "internal"}]}]},
    }


def _logging(settings: FrontDoorSettings) -> dict[str, Any]:
    return address_free_logs(settings.log_file)


def address_free_logs(log_file: str = "") -> dict[str, Any]:
    """Caddy's `logging`: its own log on stderr and the access log in `log_file` (none
    when ""), both without a client's address or any request header."""
    encoder = {
        "format": "filter",
        "wrap": {"format": "json"},
        "fields": {field: {"filter": "delete"} for field in LOG_FIELDS_DROPPED},
    }
    access = f"http.log.access.{ACCESS_LOGGER}"
    logs: dict[str, Any] = {
        "default": {"writer": {"output": "stderr"}, "encoder": encoder, "exclude": [access]}
    }
    if log_file:
        logs["access"] = {
            "writer": {"output": "file", "filename": log_file},
            "encoder": encoder,
            "include": [access],
        }
    return {"logs": logs}


def _front(settings: FrontDoorSettings) -> dict[str, Any]:
    domain = settings.domain
    server: dict[str, Any] = {
        "listen": [f"{settings.listen_host}:{settings.https_port}"],
        "protocols": ["h1", "h2"],
        "automatic_https": {"disable": True},
        "tls_connection_policies": [{}],
        "routes": [
            # DOMAIN/TOOL and DOMAIN/TOOL?QUERY: the tool's root, query kept.
            _redirect(domain, rf"^/({_NAME})(\?.*)?$", "/{http.regexp.tool.2}", settings),
            # DOMAIN/TOOL/PATH?QUERY: the same path at the tool.
            _redirect(domain, rf"^/({_NAME})(/.*)$", "{http.regexp.tool.2}", settings),
            # Not terminal: which language the pages below speak.
            language_route(),
            {
                "match": [{"host": [domain], "path": ["/"]}],
                "handle": [localized(200, pages.index(domain), domain)],
                "terminal": True,
            },
            {
                # A stopped tool's route named it in a variable and went on to here.
                "match": [{"vars_regexp": {STOPPED_VAR: {"name": "stopped", "pattern": _ONLY}}}],
                "handle": [localized(503, pages.stopped(Raw("{http.regexp.stopped.1}")), domain)],
                "terminal": True,
            },
            {
                # An unknown tool's host, named on the page (only a tool name's
                # characters can be captured).
                "match": [tool_host("unknown", domain)],
                "handle": [
                    localized(
                        404,
                        pages.unknown(Raw(f"{{http.regexp.unknown.1}}.{domain}"), domain),
                        domain,
                    )
                ],
                "terminal": True,
            },
            {"handle": [localized(404, pages.unknown("", domain), domain)], "terminal": True},
        ],
        # What a route failed to answer: a running tool's upstream that does not answer
        # (its socket gone, nothing listening) is the tool's stopped page; anything
        # else a page too, never Caddy's empty one.
        "errors": {
            "routes": [
                language_route(),
                {
                    "match": [tool_host("tool", domain)],
                    "handle": [localized(503, pages.stopped(Raw("{http.regexp.tool.1}")), domain)],
                    "terminal": True,
                },
                {"handle": [localized("{http.error.status_code}", pages.trouble(), domain)]},
            ]
        },
    }
    if settings.log_file:
        server["logs"] = {"default_logger_name": ACCESS_LOGGER}
    return server


def _plain(settings: FrontDoorSettings) -> dict[str, Any]:
    domain = settings.domain
    port = "" if settings.https_port == 443 else f":{settings.https_port}"
    return {
        "listen": [f"{settings.listen_host}:{settings.http_port}"],
        "protocols": ["h1"],
        "automatic_https": {"disable": True},
        "routes": [
            {
                "match": [{"host": [domain, f"*.{domain}"]}],
                "handle": [
                    {
                        "handler": "static_response",
                        "status_code": 301,
                        "headers": {
                            "Location": [f"https://{{http.request.host}}{port}{{http.request.uri}}"]
                        },
                    }
                ],
                "terminal": True,
            },
            language_route(),
            {"handle": [localized(404, pages.unknown("", domain), domain)], "terminal": True},
        ],
    }


def _redirect(domain: str, pattern: str, rest: str, settings: FrontDoorSettings) -> dict[str, Any]:
    location = settings.https_origin("{http.regexp.tool.1}." + domain) + rest
    return {
        "match": [
            {
                "host": [domain],
                "vars_regexp": {"{http.request.uri}": {"name": "tool", "pattern": pattern}},
            }
        ],
        "handle": [
            {
                "handler": "static_response",
                "status_code": 301,
                "headers": {"Location": [location]},
            }
        ],
        "terminal": True,
    }


def tool_host(name: str, domain: str) -> dict[str, Any]:
    """A match of a tool's host (without its port), the name captured as
    `{http.regexp.NAME.1}`: only a tool name's characters, lowercase, can be."""
    pattern = rf"^({_NAME})\.{re.escape(domain)}$"
    return {"vars_regexp": {"{http.request.host}": {"name": name, "pattern": pattern}}}


# -- a tool's route ------------------------------------------------------------------


def tool_route(route: Route, settings: FrontDoorSettings) -> dict[str, Any]:
    """The route for one tool: to its upstream while it runs, its stopped page otherwise
    (and whenever the upstream does not answer)."""
    if not TOOL_NAME.fullmatch(route.tool):
        raise FrontDoorError(f"{route.tool!r} is not a tool's name")
    host = {"host": [f"{route.tool}.{settings.domain}"]}
    if route.upstream is None:
        # Not terminal: the variable leads the request to the stopped page among the
        # fallbacks, one for every tool in every language.
        return {
            "@id": route.id,
            "match": [host],
            "handle": [{"handler": "vars", STOPPED_VAR: route.tool}],
        }
    if not _UPSTREAM.fullmatch(route.upstream):
        raise FrontDoorError(
            f"{route.tool}: the upstream {route.upstream!r} is neither unix//PATH nor host:port"
        )
    # When the upstream does not answer, the server's error routes show the stopped page.
    proxy: dict[str, Any] = {
        "handler": "reverse_proxy",
        "upstreams": [{"dial": route.upstream}],
        "headers": {"request": {"delete": list(CLIENT_ADDRESS_HEADERS)}},
    }
    if not route.upstream.startswith("unix/"):
        # Another node's door answers for a service that does not answer there: an error
        # here too, so the same error routes show the stopped page.
        proxy["handle_response"] = [
            {
                "match": {"status_code": [502], "headers": {NODE_DOOR_HEADER: [NO_SERVICE]}},
                "routes": [{"handle": [{"handler": "error", "status_code": 502}]}],
            }
        ]
    return {"@id": route.id, "match": [host], "handle": [proxy], "terminal": True}


def describe(route: Route) -> str:
    """A route in a few words, for drift lines."""
    if route.upstream is None:
        return "stopped"
    node = f" on {route.node}" if route.node else ""
    return f"running{node} at {route.upstream}"


# -- the pages, one language at a time (tests, and to look at one) ------------------


def stopped_page(tool: str, domain: str, lang: str = DEFAULT_LANGUAGE) -> str:
    """503: the tool's web service is not running (or does not answer)."""
    return pages.document(lang, pages.stopped(tool), domain)


def unknown_page(host: str, domain: str, lang: str = DEFAULT_LANGUAGE) -> str:
    """404: no tool here (`host` may be empty: no name to give)."""
    return pages.document(lang, pages.unknown(host, domain), domain)


def index_page(domain: str, lang: str = DEFAULT_LANGUAGE) -> str:
    """200 at the bare domain: where the tools are."""
    return pages.document(lang, pages.index(domain), domain)


def trouble_page(domain: str, lang: str = DEFAULT_LANGUAGE) -> str:
    """What the front door answers when something failed that no route handled."""
    return pages.document(lang, pages.trouble(), domain)
