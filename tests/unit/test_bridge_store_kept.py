"""A bridge thread keeps its store connection from one request to the next
(`bridge.sessions.current_store`), and never keeps one it should not: a request that
failed leaves no connection behind, a transaction a view left open is rolled back before
anyone waits on it, and a store restored under it is what the next page shows."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from bridge.sessions import current_store
from membership.backup import BackupError, backup, restore
from membership.store import Store
from tests.builders import add_request


@pytest.fixture
def connects(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The files a store connection is opened on from now on."""
    opened: list[str] = []
    connect = sqlite3.connect

    def counted(database: Any, *args: Any, **kwargs: Any) -> sqlite3.Connection:
        opened.append(str(database))
        return connect(database, *args, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", counted)
    yield opened


def test_a_thread_opens_the_store_once_for_many_requests(
    client: FlaskClient, store: Store, connects: list[str]
) -> None:
    for _ in range(5):
        assert client.get("/status.json").status_code == 200
    assert len(connects) == 1


def test_a_store_restored_under_a_kept_connection_is_what_the_next_page_shows(
    client: FlaskClient, store: Store, store_path: Path, tmp_path: Path
) -> None:
    assert "Restored user" not in client.get("/status").get_data(as_text=True)
    other = Store(tmp_path / "elsewhere.sqlite")
    add_request(other, "Restored user")
    other.close()
    backup(tmp_path / "elsewhere.sqlite", tmp_path / "backup.sqlite")
    with pytest.raises(BackupError, match="--force"):
        restore(tmp_path / "backup.sqlite", store_path)
    restore(tmp_path / "backup.sqlite", store_path, force=True)
    assert "Restored user" in client.get("/status").get_data(as_text=True)


@pytest.fixture
def app_with_faults(app: Flask) -> Flask:
    app.config["PROPAGATE_EXCEPTIONS"] = False  # a 500 page, as in production

    @app.get("/test-fails")
    def fails() -> str:
        current_store()
        raise RuntimeError("a view fails")

    @app.get("/test-leaves-a-transaction-open")
    def leaves_open() -> str:
        current_store().db.conn.execute("BEGIN IMMEDIATE")
        return "left open"

    return app


def test_a_request_that_failed_leaves_no_connection_to_the_next(
    app_with_faults: Flask, store: Store, store_path: Path, connects: list[str]
) -> None:
    client = app_with_faults.test_client()
    client.get("/status.json")
    assert client.get("/test-fails").status_code == 500
    client.get("/status.json")
    assert connects.count(str(store_path)) == 2


def test_a_transaction_a_view_left_open_is_rolled_back(
    app_with_faults: Flask, store_path: Path
) -> None:
    client = app_with_faults.test_client()
    assert client.get("/test-leaves-a-transaction-open").status_code == 200
    writer = Store(store_path, busy_timeout_ms=200)
    try:
        add_request(writer, "Someone after")  # would wait on the lock, then fail
    finally:
        writer.close()
