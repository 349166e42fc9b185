"""The front door's configuration as data (runtime/frontdoor.py): what each route holds,
the privacy deletes and the log filter, the TLS choices, the fallbacks, and the pages'
escaping."""

from __future__ import annotations

import json
from typing import Any

import pytest

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
    [subroute] = route["handle"]
    [proxy] = subroute["routes"][0]["handle"]
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
    [error] = subroute["errors"]["routes"][0]["handle"]
    assert error["status_code"] == 503 and "mytool is not running" in error["body"]


def test_a_stopped_tool_answers_503_with_its_page() -> None:
    route = tool_route(Route("mytool", None), SETTINGS)
    [page] = route["handle"]
    assert page["handler"] == "static_response" and page["status_code"] == 503
    assert "toolforge webservice start" in page["body"]
    assert page["headers"]["Cache-Control"] == ["no-store"]


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
    assert [r["handle"][0]["status_code"] for r in routes] == [301, 301, 200, 404, 404]


def test_pages_escape_what_they_show_and_load_nothing() -> None:
    page = unknown_page('<b>"x"</b>.tools.test', "tools.test")
    assert "<b>" not in page and "&lt;b&gt;&quot;x&quot;" in page
    assert '<a href="https://tools.test/">tools.test</a>' in page
    for each in (page, stopped_page("mytool", "tools.test"), index_page("tools.test")):
        assert each.startswith("<!doctype html>") and "<style>" in each
        assert "<link" not in each and "<script" not in each and "src=" not in each
    assert "&lt;i&gt;" in stopped_page("<i>", "tools.test")
