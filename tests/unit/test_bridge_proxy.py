"""The bridge behind a proxy through Flask's test client: whose address the login rate
limit counts, and which sign-ins count."""

from __future__ import annotations

import pytest

from bridge import create_app
from bridge.security import client_key, sign_in_finished
from membership.store import Store


@pytest.fixture
def settings(tmp_path, monkeypatch):
    monkeypatch.setenv("ATS_SESSION_KEY", "test-session-key-0123456789abcdef")
    monkeypatch.setenv("ATS_OAUTH_SECRET", "test-oauth-secret")
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    return {
        "url": "https://bridge.example",
        "wiki_api": "http://127.0.0.1:9/w/api.php",
        "store_path": str(tmp_path / "ats.sqlite"),
        "consumer_key": "test-consumer",
        "login_limit": 2,
        "testing": True,
    }


def logins(app, *addresses: str) -> list[int]:
    client = app.test_client()
    return [
        client.get("/login", headers={"X-Forwarded-For": address}).status_code
        for address in addresses
    ]


def test_trusted_proxy_keys_the_limit_on_the_forwarded_client(settings) -> None:
    app = create_app({**settings, "trusted_proxies": 1})
    assert logins(app, "1.1.1.1", "1.1.1.1", "1.1.1.1", "2.2.2.2") == [302, 302, 429, 302]


def test_only_the_trusted_number_of_forwarded_entries_is_believed(settings) -> None:
    app = create_app({**settings, "trusted_proxies": 1})
    # The client prepends made-up addresses; the proxy appends the real one.
    spoofed = [f"9.9.9.{n}, 1.1.1.1" for n in range(3)]
    assert logins(app, *spoofed) == [302, 302, 429]


def test_without_trusted_proxies_forwarded_headers_are_ignored(settings) -> None:
    app = create_app(settings)
    assert logins(app, "1.1.1.1", "2.2.2.2", "3.3.3.3") == [302, 302, 429]
    with app.test_request_context("/", headers={"X-Forwarded-Proto": "https"}):
        from flask import request

        assert request.scheme == "http"


def test_forwarded_scheme_and_host_are_the_clients(settings) -> None:
    app = create_app({**settings, "trusted_proxies": 1})
    seen = {}

    @app.get("/probe")
    def probe() -> str:
        from flask import request

        seen.update(scheme=request.scheme, host=request.host, address=request.remote_addr)
        return ""

    app.test_client().get(
        "/probe",
        headers={
            "X-Forwarded-For": "203.0.113.9",
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "bridge.example",
        },
    )
    assert seen == {"scheme": "https", "host": "bridge.example", "address": "203.0.113.9"}


def test_a_finished_sign_in_is_uncounted(settings) -> None:
    app = create_app(settings)
    store = Store(settings["store_path"])
    assert logins(app, "1.1.1.1", "1.1.1.1") == [302, 302]
    with app.test_request_context("/", environ_base={"REMOTE_ADDR": "127.0.0.1"}):
        key = client_key("test-session-key-0123456789abcdef")
    sign_in_finished(store, key)
    assert logins(app, "1.1.1.1", "1.1.1.1") == [302, 429]
    store.close()
