"""Fixtures every test may use: a temporary store, and the bridge on it (the Flask app,
its test client, clients logged in as someone).

The store is the one file a test's processes share: `store_path` is where the bridge,
the CLI and `store` all find it. Requests as tests write them (a request section's
wikitext, a request row in the store) are built by `tests/builders.py`.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from bridge import create_app
from bridge.testing import log_in
from membership.store import Store
from policies.eligibility import EligibilityPolicy
from tests.integration.built import NEEDED_BY, shared_folder, start_builds
from tests.run_cgroup import (  # noqa: F401 - every process a run starts dies with the run
    pytest_sessionstart,
    pytest_unconfigure,
)

# The fixtures whose servers a run builds once.
BUILT = set(NEEDED_BY)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests that need no server the run builds once come first — integration tests with
    servers of their own, then the unit tests — so the workers have work while the
    builds run; the tests that wait for a build come last."""

    def order(item: pytest.Item) -> int:
        if BUILT & set(getattr(item, "fixturenames", ())):
            return 2
        return 1 if "tests/unit/" in item.nodeid else 0

    items.sort(key=order)  # stable: each group keeps its files' order


def pytest_collection_finish(session: pytest.Session) -> None:
    """The first worker (or a run without workers) starts building what the collected
    tests need, before they ask for it."""
    if os.environ.get("PYTEST_XDIST_WORKER", "gw0") != "gw0" or session.config.option.collectonly:
        return
    needed = {name for item in session.items for name in getattr(item, "fixturenames", ())}
    if not BUILT & needed:
        return
    start_builds(shared_folder(session.config._tmp_path_factory.getbasetemp()), needed)


ADMINS = ("Admin One", "Admin Two")
# An address where nothing listens: the bridge's OAuth 2.0 start only builds a URL from it.
UNREACHABLE_WIKI_API = "http://127.0.0.1:9/w/api.php"


@pytest.fixture
def traced(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every SQL statement run on a store connection opened from now on (sqlite3's trace
    callback): what a page or an opening costs, counted."""
    statements: list[str] = []
    connect = sqlite3.connect

    def tracing(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        conn = connect(*args, **kwargs)
        conn.set_trace_callback(statements.append)
        return conn

    monkeypatch.setattr(sqlite3, "connect", tracing)
    return statements


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "ats.sqlite"


@pytest.fixture
def store(store_path: Path) -> Iterator[Store]:
    """A fresh store (every migration applied) in this test's temporary folder."""
    opened = Store(store_path)
    yield opened
    opened.close()


@pytest.fixture
def bridge_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """The secrets the bridge refuses to start without, and plain http for oauthlib (the
    local wikis speak it), for this test only."""
    monkeypatch.setenv("ATS_SESSION_KEY", "test-session-key-0123456789abcdef")
    monkeypatch.setenv("ATS_OAUTH_SECRET", "test-oauth-secret")
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")


@pytest.fixture
def app_settings(store_path: Path, bridge_secrets: None) -> dict[str, Any]:
    """`create_app` settings for a bridge on this test's store, with two admins. Override
    this fixture in a test module to change one setting."""
    return {
        "url": "http://127.0.0.1:5000",
        "wiki_api": UNREACHABLE_WIKI_API,
        "store_path": str(store_path),
        "oauth_version": 2,
        "consumer_key": "test-consumer",
        "policy": EligibilityPolicy(admins=ADMINS),
        "secure_cookies": False,
        "testing": True,
    }


@pytest.fixture
def app(app_settings: dict[str, Any]) -> Flask:
    return create_app(app_settings)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """An anonymous visitor."""
    return app.test_client()


@pytest.fixture
def client_as(app: Flask) -> Callable[..., FlaskClient]:
    """`client_as("Admin One")`: a new client whose session holds that verified identity,
    as after the OAuth callback (`bridge.testing.log_in`; keyword arguments go to it)."""

    def logged_in(username: str, **identity: Any) -> FlaskClient:
        visitor = app.test_client()
        log_in(app, visitor, username, **identity)
        return visitor

    return logged_in
