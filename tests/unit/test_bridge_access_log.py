"""The bridge logs one line per request: method, path, status and who, never the query
string (an OAuth callback's code and state) and never the metrics scrapes."""

from __future__ import annotations

import logging

import pytest


def test_one_line_per_request_without_the_query_string(
    client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="bridge.access"):
        client.get("/status")
        client.get("/oauth/callback?code=a-secret-code&state=xyz")
        client.get("/metrics")
    lines = [r.getMessage() for r in caplog.records if r.name == "bridge.access"]
    assert len(lines) == 2
    assert lines[0].startswith("GET /status 200 -")
    assert lines[1].startswith("GET /oauth/callback ")
    assert all("a-secret-code" not in line and "xyz" not in line for line in lines)


def test_the_line_names_who_was_signed_in(client_as, caplog: pytest.LogCaptureFixture) -> None:
    client = client_as("Admin One")
    with caplog.at_level(logging.INFO, logger="bridge.access"):
        client.get("/me")
    lines = [r.getMessage() for r in caplog.records if r.name == "bridge.access"]
    assert lines == ["GET /me 200 Admin One"]
