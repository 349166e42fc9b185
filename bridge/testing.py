"""TEST ONLY: log a member in without the OAuth exchange.

`log_in` does what a verified OAuth callback does — records the identity in the
store, creates a server-side session holding it, moves the member's requests
forward — and gives the test client that session's cookie. It exists so that
logged-in pages can be tested with Flask's test client; the OAuth exchange itself is
tested in `tests/integration/test_oauth.py` and `tests/integration/test_realoauth.py`
(against the real extension). Nothing in the app imports this module.
"""

from __future__ import annotations

from flask import Flask, session
from flask.testing import FlaskClient

from bridge import auth


def log_in(
    app: Flask,
    client: FlaskClient,
    username: str,
    *,
    central_id: str = "",
    groups: tuple[str, ...] = (),
    oauth_version: int = 2,
) -> None:
    with app.test_request_context("/"):
        auth.sign_in(username, central_id or f"central-{username}", groups, oauth_version)
        response = app.response_class()
        app.session_interface.save_session(app, session, response)
    cookie = response.headers.get("Set-Cookie", "")
    name, _, rest = cookie.partition("=")
    client.set_cookie(name, rest.partition(";")[0])
