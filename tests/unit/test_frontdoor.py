"""The front door's configuration as data (runtime/frontdoor.py): what each route holds,
the privacy deletes and the log filter, the TLS choices, the fallbacks, where the pages
live (once, not per tool) and the pages' escaping."""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

import pytest

from runtime.doorpages import language_route
from runtime.frontdoor import (
    FrontDoorError,
    FrontDoorSettings,
    Route,
    base_config,
    index_page,
    stopped_page,
    tool_route,
    unknown_page,
)

SETTINGS = FrontDoorSettings(
    domain="tools.example.org",
    https_port=443,
    http_port=80,
    admin="127.0.0.1:2019",
    storage="/var/lib/ats/caddy",
    tls_cert="/etc/ats/tls/tools.pem",
    tls_key="/etc/ats/tls/tools.key",
    log_file="/var/log/ats/access.log",
)
DEV = FrontDoorSettings(
    domain="tools.test", https_port=8443, http_port=0, admin="127.0.0.1:9", storage="/d"
)


def front_routes(config: dict[str, Any]) -> list[dict[str, Any]]:
    routes: list[dict[str, Any]] = config["apps"]["http"]["servers"]["front"]["routes"]
    return routes


def test_a_running_tool_is_proxied_with_every_client_address_header_deleted() -> None:
    route = tool_route(Route("mytool", "unix//srv/tools/mytool/web.sock"), SETTINGS)
    assert route["@id"] == "tool-mytool"
    assert route["match"] == [{"host": ["mytool.tools.example.org"]}]
    assert route["terminal"] is True
    [proxy] = route["handle"]
    assert proxy["upstreams"] == [{"dial": "unix//srv/tools/mytool/web.sock"}]
    deleted = {name.lower() for name in proxy["headers"]["request"]["delete"]}
    assert {
        "x-forwarded-for",
        "x-real-ip",
        "forwarded",
        "x-client-ip",
        "true-client-ip",
        "cf-connecting-ip",
        "x-forwarded",
    } <= deleted
    assert "trusted_proxies" not in proxy


def test_an_upstream_that_does_not_answer_gets_the_stopped_page_of_the_tool_host() -> None:
    """The server's error routes: the language first, then a tool's host (its name
    captured) the stopped page with 503, anything else the trouble page."""
    language, stopped, trouble = base_config(SETTINGS)["apps"]["http"]["servers"]["front"][
        "errors"
    ]["routes"]
    assert language == language_route()
    [host] = stopped["match"][0]["vars_regexp"].values()
    assert re.fullmatch(host["pattern"], "mytool.tools.example.org")
    assert not re.fullmatch(host["pattern"], "tools.example.org")
    assert not re.fullmatch(host["pattern"], "my{tool}.tools.example.org")
    pages = bodies(stopped)
    assert {page["status_code"] for page in pages} == {503}
    assert all("{http.regexp.tool.1}" in page["body"] for page in pages)
    assert [page["status_code"] for page in bodies(trouble)] == ["{http.error.status_code}"] * 5


def test_a_stopped_tool_is_named_in_a_variable_and_answers_503_with_its_page() -> None:
    """A stopped tool's route is small: it names the tool and goes on to the stopped page
    among the fallbacks (one for every tool, in every language)."""
    route = tool_route(Route("mytool", None), SETTINGS)
    assert route == {
        "@id": "tool-mytool",
        "match": [{"host": ["mytool.tools.example.org"]}],
        "handle": [{"handler": "vars", "ats_stopped": "mytool"}],
    }
    [stopped] = [r for r in front_routes(base_config(SETTINGS)) if "ats_stopped" in json.dumps(r)]
    [name] = stopped["match"][0]["vars_regexp"].values()
    assert re.fullmatch(name["pattern"], "mytool")
    assert not re.fullmatch(name["pattern"], "my<tool>")
    for page in bodies(stopped):
        assert page["status_code"] == 503
        assert "<code>toolforge webservice start</code>" in page["body"]
        assert "{http.regexp.stopped.1}" in page["body"]
        assert page["headers"]["Cache-Control"] == ["no-store"]


def test_a_tools_route_stays_small_and_the_pages_are_there_once() -> None:
    """The pages' bodies live in the base configuration; a tool's route carries none."""
    stopped = json.dumps(tool_route(Route("a-tool-with-a-long-name", None), SETTINGS))
    running = json.dumps(tool_route(Route("mytool", "unix//srv/tools/mytool/web.sock"), SETTINGS))
    assert len(stopped) < 200 and len(running) < 700
    whole = json.dumps(base_config(SETTINGS))
    assert whole.count("<!doctype html>") == 7 * 5  # 7 pages, 5 languages each
    assert len(whole) < 120_000


@pytest.mark.parametrize(
    ("tool", "upstream"),
    [
        ("My Tool", None),
        ("a}b", None),
        ("mytool", "http://127.0.0.1:8000"),
        ("mytool", "unix/"),
        ("mytool", "10.0.0.5"),
    ],
)
def test_a_bad_name_or_upstream_is_refused(tool: str, upstream: str | None) -> None:
    with pytest.raises(FrontDoorError):
        tool_route(Route(tool, upstream), SETTINGS)


def test_an_upstream_on_another_node() -> None:
    for upstream in ("10.0.0.5:8000", "node3.cluster:8000", "[fd00::5]:8000"):
        route = tool_route(Route("mytool", upstream), SETTINGS)
        assert json.dumps(upstream) in json.dumps(route)


def test_settings_that_cannot_be_are_refused() -> None:
    with pytest.raises(FrontDoorError, match="domain"):
        FrontDoorSettings("Tools Example", 443, 0, "127.0.0.1:2019", "/d")
    with pytest.raises(FrontDoorError, match="tls_cert and tls_key"):
        FrontDoorSettings("tools.test", 443, 0, "127.0.0.1:2019", "/d", tls_cert="/c")
    with pytest.raises(FrontDoorError, match="https_port"):
        FrontDoorSettings("tools.test", 0, 0, "127.0.0.1:2019", "/d")


def test_the_chapter_certificate_is_loaded_and_no_ca_is_made() -> None:
    config = base_config(SETTINGS)
    tls = config["apps"]["tls"]
    assert tls == {
        "certificates": {
            "load_files": [
                {"certificate": "/etc/ats/tls/tools.pem", "key": "/etc/ats/tls/tools.key"}
            ]
        }
    }
    assert "pki" not in config["apps"]
    assert config["admin"] == {"listen": "127.0.0.1:2019"}
    assert config["storage"] == {"module": "file_system", "root": "/var/lib/ats/caddy"}
    front = config["apps"]["http"]["servers"]["front"]
    assert front["listen"] == [":443"]
    assert front["automatic_https"] == {"disable": True}


def test_the_internal_ca_never_touches_the_trust_store() -> None:
    config = base_config(DEV)
    assert config["apps"]["pki"] == {"certificate_authorities": {"local": {"install_trust": False}}}
    policy = config["apps"]["tls"]["automation"]["policies"][0]
    assert policy == {
        "subjects": ["tools.test", "*.tools.test"],
        "issuers": [{"module": "internal"}],
    }
    assert config["apps"]["tls"]["certificates"] == {"automate": ["tools.test", "*.tools.test"]}


def test_plain_http_redirects_only_when_asked() -> None:
    assert "plain" not in base_config(DEV)["apps"]["http"]["servers"]
    plain = base_config(SETTINGS)["apps"]["http"]["servers"]["plain"]
    assert plain["listen"] == [":80"]
    location = plain["routes"][0]["handle"][0]["headers"]["Location"]
    assert location == ["https://{http.request.host}{http.request.uri}"]


def test_logs_drop_every_client_address_and_no_access_log_without_a_file() -> None:
    logs = base_config(SETTINGS)["logging"]["logs"]
    for name in ("default", "access"):
        fields = logs[name]["encoder"]["fields"]
        for field in ("request>remote_ip", "request>remote_port", "request>client_ip"):
            assert fields[field] == {"filter": "delete"}
        assert fields["request>headers"] == {"filter": "delete"}
    assert logs["access"]["writer"] == {"output": "file", "filename": "/var/log/ats/access.log"}
    assert "logs" in base_config(SETTINGS)["apps"]["http"]["servers"]["front"]
    dev = base_config(DEV)
    assert "access" not in dev["logging"]["logs"]
    assert "logs" not in dev["apps"]["http"]["servers"]["front"]


def test_the_fallbacks_redirect_index_and_404() -> None:
    routes = front_routes(base_config(DEV))
    assert all("@id" not in route for route in routes)
    locations = [r["handle"][0]["headers"]["Location"][0] for r in routes[:2]]
    assert locations == [
        "https://{http.regexp.tool.1}.tools.test:8443/{http.regexp.tool.2}",
        "https://{http.regexp.tool.1}.tools.test:8443{http.regexp.tool.2}",
    ]
    assert routes[2] == language_route()
    statuses = [r["handle"][0]["status_code"] for r in routes[:2]]
    statuses += [{page["status_code"] for page in bodies(r)} for r in routes[3:]]
    assert statuses == [301, 301, {200}, {503}, {404}, {404}]


def test_plain_http_answers_other_hosts_with_the_404_page_in_the_visitors_language() -> None:
    routes = base_config(SETTINGS)["apps"]["http"]["servers"]["plain"]["routes"]
    assert routes[1] == language_route()
    pages = bodies(routes[2])
    assert [page["status_code"] for page in pages] == [404] * 5
    assert "There is no tool at this address." in pages[-1]["body"]


def bodies(route: dict[str, Any]) -> list[dict[str, Any]]:
    """The static responses of a page's route, one per language (English last)."""
    [subroute] = route["handle"]
    assert subroute["handler"] == "subroute"
    return [r["handle"][0] for r in subroute["routes"]]


def test_pages_escape_what_they_show_and_load_nothing() -> None:
    page = unknown_page('<b>"x"</b>.tools.test', "tools.test")
    assert "<b>" not in page and "&lt;b&gt;&quot;x&quot;" in page
    assert '<a class="ats-brand" href="https://tools.test/">tools.test</a>' in page
    for each in (page, stopped_page("mytool", "tools.test"), index_page("tools.test")):
        assert each.startswith("<!doctype html>") and "<style>" in each
        assert "<link" not in each and "<script" not in each and "src=" not in each
    assert "&lt;i&gt;" in stopped_page("<i>", "tools.test")
    assert (
        "{" not in stopped_page("{http.request.header.Cookie}", "tools.test").split("</style>")[1]
    )


def test_an_admin_api_on_a_socket_allows_the_host_the_jobs_service_sends() -> None:
    on_socket = dataclasses.replace(SETTINGS, admin="unix//var/lib/caddy/admin.sock")
    assert base_config(on_socket)["admin"] == {
        "listen": "unix//var/lib/caddy/admin.sock",
        "origins": ["localhost"],
    }
    assert base_config(SETTINGS)["admin"] == {"listen": "127.0.0.1:2019"}  # Caddy's defaults
