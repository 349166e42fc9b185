"""The bridge writes a session only when it changes: a member reading pages costs no
write to the store, a choice or a login is written, and the expiry of a session in use
moves once a quarter of its lifetime has passed, so a reader is never logged out.

Writes are counted with sqlite3's trace callback, every statement of the store's
connections, opening it and reading the session included."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient

from bridge.i18n import SESSION_KEY
from bridge.sessions import ServerSession
from bridge.testing import log_in
from membership.store import Store

START = datetime(2026, 3, 14, 9, 0, tzinfo=UTC)


@pytest.fixture
def frozen() -> Iterator[time_machine.Coordinates]:
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def session_writes(statements: list[str]) -> list[str]:
    """The statements that changed the sessions table, first word and table only."""
    return [
        " ".join(statement.split()[:3])
        for statement in statements
        if re.match(r"(INSERT|UPDATE|DELETE)\b", statement)
        and re.search(r"\bsessions\b", statement)
    ]


def stored_sessions(store: Store) -> list[dict[str, Any]]:
    return [dict(row) for row in store.db.query("SELECT * FROM sessions")]


def test_a_member_viewing_a_page_again_writes_nothing(
    client_as: Callable[..., FlaskClient], traced: list[str]
) -> None:
    member = client_as("Example")
    member.get("/me")  # the page's forms put a CSRF token in the session: written
    traced.clear()
    again = member.get("/me")
    assert again.status_code == 200
    assert session_writes(traced) == []
    assert "BEGIN IMMEDIATE" not in traced  # nor did opening the store take the lock
    assert "Set-Cookie" not in again.headers  # the cookie keeps its expiry
    assert "Cookie" in again.headers["Vary"]  # the page is still this member's


def test_choosing_a_language_is_written(
    client_as: Callable[..., FlaskClient], traced: list[str], store: Store
) -> None:
    member = client_as("Example")
    member.get("/me")
    traced.clear()
    chosen = member.get("/language?language=de&next=/me")
    assert chosen.status_code == 303
    assert session_writes(traced) == ["INSERT INTO sessions"]
    assert "HttpOnly" in chosen.headers["Set-Cookie"]
    (row,) = stored_sessions(store)
    assert json.loads(row["data"])[SESSION_KEY] == "de"
    traced.clear()
    page = member.get("/me")
    assert '<html lang="de"' in page.get_data(as_text=True)
    assert session_writes(traced) == []


def test_logging_in_and_out_are_written(
    app: Flask, client: FlaskClient, traced: list[str], store: Store
) -> None:
    client.get("/status")  # an anonymous reader: no session at all
    assert session_writes(traced) == [] and stored_sessions(store) == []
    log_in(app, client, "Example")
    assert session_writes(traced) == ["INSERT INTO sessions"]
    page = client.get("/me").get_data(as_text=True)
    token = re.search(r'name="csrf_token"\s+value="([^"]+)"', page)
    assert token is not None
    traced.clear()
    client.post("/logout", data={"csrf_token": token.group(1)})
    assert session_writes(traced) == ["DELETE FROM sessions"]
    assert stored_sessions(store) == []
    assert client.get("/me").status_code == 302


def test_a_reader_stays_logged_in_and_the_expiry_moves_once_a_quarter_lifetime(
    app: Flask,
    client_as: Callable[..., FlaskClient],
    traced: list[str],
    frozen: time_machine.Coordinates,
) -> None:
    lifetime = timedelta(hours=app.extensions["ats_bridge"].session_hours)
    member = client_as("Example")
    member.get("/me")  # the CSRF token: written now
    written = []
    for _ in range(7):  # a view every fifth of the lifetime, past the lifetime itself
        frozen.shift(lifetime / 5)
        traced.clear()
        response = member.get("/me")
        assert response.status_code == 200
        writes = session_writes(traced)
        assert writes in ([], ["UPDATE sessions SET"])
        assert ("Set-Cookie" in response.headers) == bool(writes)
        written.append(bool(writes))
    # Written when a quarter had passed since the last write: every other view.
    assert written == [False, True, False, True, False, True, False]

    frozen.shift(lifetime * 3 / 4)  # idle for three quarters: still logged in
    assert member.get("/me").status_code == 200
    frozen.shift(lifetime)  # idle for the whole lifetime: logged out
    assert member.get("/me").status_code == 302


def test_a_change_inside_a_value_is_a_change() -> None:
    session = ServerSession({"identity": {"groups": ["user"]}}, "token", START)
    assert not session.changed()
    session["identity"]["groups"].append("sysop")
    assert session.changed()
