"""The front door's configuration: one Caddy serving every tool's web service at
`https://TOOL.DOMAIN/`, as the JSON Caddy's admin API takes (pure; runtime/caddy.py
sends it, runtime/doorkeeper.py converges to it).

`base_config` is the whole configuration without any tool: the admin API's address,
Caddy's storage, the logs, TLS (the chapter's certificate files, or Caddy's internal CA
for development, never installed into the machine's trust store) and one HTTPS server,
`front`, whose routes end with the fallbacks — `DOMAIN/TOOL/…` answers 301 to
`https://TOOL.DOMAIN/…` (path and query kept), the bare domain's `/` a small index page,
anything else a 404 page. A tool's route (`tool_route`, `@id` `tool-NAME`) goes before
the fallbacks: a running tool's proxies to its upstream (`unix//PATH` or `host:port`),
and when that upstream does not answer (the socket gone, nothing listening) its own
error route shows the tool's "stopped" page with 503, as a stopped tool's route does.

Privacy: no visitor's address reaches a tool or a log. Caddy's reverse_proxy replaces a
client's X-Forwarded-For with the visitor's address (it trusts no proxy unless
`trusted_proxies` says so) and passes every other header through; the route deletes
X-Forwarded-For and every header that carries a client address (`CLIENT_ADDRESS_HEADERS`)
in the handler's `headers.request`, which Caddy applies after setting its own. Access
logs (only with a `log_file`) and Caddy's own log go through a filter that drops the
remote address and port and the request's headers.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

from policies.errors import Refusal
from policies.requests import TOOL_NAME

SERVER = "front"
PREFIX = "tool-"  # a tool route's @id is PREFIX + the tool's name
ACCESS_LOGGER = "front"  # the access log's name (Caddy logs it as http.log.access.front)
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
_LABEL = r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})+$")
_UPSTREAM = re.compile(r"^(?:unix//\S+|[A-Za-z0-9.-]+:\d{1,5}|\[[0-9A-Fa-f:.]+\]:\d{1,5})$")


class FrontDoorError(Refusal, ValueError):
    """The front door's settings or a route cannot be: says which, in one line."""


@dataclass(frozen=True)
class FrontDoorSettings:
    domain: str  # tools are at TOOL.DOMAIN
    https_port: int
    http_port: int  # 0: no plain HTTP; else a server there redirects to HTTPS
    admin: str  # the admin API's address, "127.0.0.1:PORT"
    storage: str  # Caddy's data folder (its certificates, the internal CA)
    tls_cert: str = ""  # the chapter's certificate (*.DOMAIN and DOMAIN) and key files;
    tls_key: str = ""  # both empty: Caddy's internal CA, for development
    log_file: str = ""  # the access log; "" for none
    listen_host: str = ""  # the address the servers listen on; "" for every address

    def __post_init__(self) -> None:
        if not _HOSTNAME.match(self.domain):
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
    return {
        "admin": {"listen": settings.admin},
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
    encoder = {
        "format": "filter",
        "wrap": {"format": "json"},
        "fields": {field: {"filter": "delete"} for field in LOG_FIELDS_DROPPED},
    }
    access = f"http.log.access.{ACCESS_LOGGER}"
    logs: dict[str, Any] = {
        "default": {"writer": {"output": "stderr"}, "encoder": encoder, "exclude": [access]}
    }
    if settings.log_file:
        logs["access"] = {
            "writer": {"output": "file", "filename": settings.log_file},
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
            {
                "match": [{"host": [domain], "path": ["/"]}],
                "handle": [_page(200, index_page(domain))],
                "terminal": True,
            },
            {
                # An unknown tool's host, named on the page (only a tool name's
                # characters can be captured).
                "match": [
                    {
                        "vars_regexp": {
                            "{http.request.host}": {
                                "name": "unknown",
                                "pattern": rf"^({_NAME})\.{re.escape(domain)}$",
                            }
                        }
                    }
                ],
                "handle": [_page(404, unknown_page("{http.regexp.unknown.1}." + domain, domain))],
                "terminal": True,
            },
            {"handle": [_page(404, unknown_page("", domain))], "terminal": True},
        ],
        # What no route's own error handling answered: a page, never Caddy's empty one.
        "errors": {
            "routes": [{"handle": [_page("{http.error.status_code}", trouble_page(domain))]}]
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
            {"handle": [_page(404, unknown_page("", domain))], "terminal": True},
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


def _page(status: int | str, body: str) -> dict[str, Any]:
    return {
        "handler": "static_response",
        "status_code": status,
        "headers": {
            "Content-Type": ["text/html; charset=utf-8"],
            # A tool that starts again must not be hidden behind a remembered page.
            "Cache-Control": ["no-store"],
        },
        "body": body,
    }


# -- a tool's route ------------------------------------------------------------------


def tool_route(route: Route, settings: FrontDoorSettings) -> dict[str, Any]:
    """The route for one tool: to its upstream while it runs, its stopped page otherwise
    (and whenever the upstream does not answer)."""
    if not TOOL_NAME.fullmatch(route.tool):
        raise FrontDoorError(f"{route.tool!r} is not a tool's name")
    stopped = _page(503, stopped_page(route.tool, settings.domain))
    handle: list[dict[str, Any]]
    if route.upstream is None:
        handle = [stopped]
    else:
        if not _UPSTREAM.fullmatch(route.upstream):
            raise FrontDoorError(
                f"{route.tool}: the upstream {route.upstream!r} is neither unix//PATH nor host:port"
            )
        proxy = {
            "handler": "reverse_proxy",
            "upstreams": [{"dial": route.upstream}],
            "headers": {"request": {"delete": list(CLIENT_ADDRESS_HEADERS)}},
        }
        handle = [
            {
                "handler": "subroute",
                "routes": [{"handle": [proxy]}],
                "errors": {"routes": [{"handle": [stopped]}]},
            }
        ]
    return {
        "@id": route.id,
        "match": [{"host": [f"{route.tool}.{settings.domain}"]}],
        "handle": handle,
        "terminal": True,
    }


def describe(route: Route) -> str:
    """A route in a few words, for drift lines."""
    return "stopped" if route.upstream is None else f"running at {route.upstream}"


# -- the pages -----------------------------------------------------------------------

_STYLE = (
    "body{font-family:sans-serif;color:#202122;background:#fff;max-width:40em;"
    "margin:3em auto;padding:0 1em;line-height:1.5}"
    "h1{font-weight:normal;border-bottom:1px solid #a2a9b1}"
    "a{color:#36c}code{background:#eaecf0;padding:0 .2em}"
)


def _html(title: str, sentence: str, domain: str) -> str:
    home = html.escape(f"https://{domain}/")
    return (
        "<!doctype html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{title}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        f"<h1>{title}</h1>\n<p>{sentence}</p>\n"
        f'<p><a href="{home}">{html.escape(domain)}</a></p>\n'
        "</body>\n</html>\n"
    )


def stopped_page(tool: str, domain: str) -> str:
    """503: the tool's web service is not running (or does not answer)."""
    name = html.escape(tool)
    return _html(
        f"{name} is not running",
        f"The web service of the tool {name} is not running at the moment. Its maintainers "
        "can start it with <code>toolforge webservice start</code>.",
        domain,
    )


def unknown_page(host: str, domain: str) -> str:
    """404: no tool here (`host` may be empty: no name to give)."""
    where = f"at {html.escape(host)}" if host else "at this address"
    return _html(
        "No such tool",
        f"There is no tool {where}. Tools live at https://TOOL.{html.escape(domain)}/.",
        domain,
    )


def index_page(domain: str) -> str:
    """200 at the bare domain: where the tools are."""
    name = html.escape(domain)
    return _html(
        f"Tools at {name}",
        f"Each tool hosted here has its own address: https://TOOL.{name}/ "
        f"(https://{name}/TOOL/ leads there too).",
        domain,
    )


def trouble_page(domain: str) -> str:
    """What the front door answers when something failed that no route handled."""
    return _html(
        "Something went wrong",
        "The front door could not answer this request. Please try again in a moment.",
        domain,
    )
