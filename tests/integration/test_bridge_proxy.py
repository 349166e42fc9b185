"""The real bridge behind a reverse proxy (`[bridge] trusted_proxies = 1`): requests
come from 127.0.0.1 with the client's address in `X-Forwarded-For`, as a TLS proxy
sends them. Many members sign in at once; one client hammering `/login` is limited
alone; being sent to log in from `/me` and signing in spends nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.bridge_server import BridgeServer
from tests.integration.conftest import WikiBot
from tests.integration.test_bridge_oauth import Browser

LIMIT = 3


@pytest.fixture
def proxied(wikibot: WikiBot) -> Iterator[BridgeServer]:
    server = BridgeServer(wikibot, oauth_version=2)
    with server.config.open("a", encoding="utf-8") as config:
        # `[bridge]` is the file's last table: these keys join it.
        config.write(f"trusted_proxies = 1\nlogin_limit = {LIMIT}\nlogin_window = 60\n")
    try:
        yield server.start()
    finally:
        server.stop()


def client_at(address: str) -> Browser:
    browser = Browser()
    browser.http.headers["X-Forwarded-For"] = address
    browser.http.headers["X-Forwarded-Proto"] = "http"
    return browser


def sign_in(bridge: BridgeServer, browser: Browser, username: str, central_id: int) -> int:
    """Visit /me logged out, get sent through the wiki's sign-in; the final status."""
    bridge.oauth.login_as(username, central_id)
    page = browser.get(bridge.url + "/me")
    if page.status_code == 200:
        assert f"Logged in as <strong>{username}</strong>" in page.text
    return page.status_code


def test_twenty_members_sign_in_within_a_minute_behind_the_proxy(proxied: BridgeServer) -> None:
    # All twenty start before any finishes, as at a meetup: through one proxy address
    # the limit of three unfinished sign-ins would refuse the fourth.
    started = []
    for n in range(20):
        browser = client_at(f"203.0.113.{n}")
        proxied.oauth.login_as(f"Member {n}", 100 + n)
        hop = browser.get(proxied.url + "/me", until=proxied.url + "/oauth/callback")
        assert hop.status_code == 302, hop.text
        started.append((browser, browser.hops[-1][1]))
    pages = [browser.get(callback) for browser, callback in started]
    assert [page.status_code for page in pages] == [200] * 20
    assert all(
        f"Logged in as <strong>Member {n}</strong>" in page.text for n, page in enumerate(pages)
    )
    assert (
        proxied.wikibot.store()
        .db.execute("SELECT count(*) FROM audit WHERE action = 'bridge-login'")
        .fetchone()[0]
        == 20
    )


def test_one_client_hammering_login_is_limited_alone(proxied: BridgeServer) -> None:
    hammer = client_at("198.51.100.7")
    codes = [
        hammer.http.get(proxied.url + "/login", allow_redirects=False, timeout=15).status_code
        for _ in range(LIMIT + 2)
    ]
    assert codes == [302] * LIMIT + [429, 429]
    # Everyone else still signs in: the proxy's own address is not the key.
    assert sign_in(proxied, client_at("198.51.100.8"), "Bystander", 300) == 200


def test_being_sent_to_log_in_from_me_spends_nothing(proxied: BridgeServer) -> None:
    # One household (one address), more sign-ins through /me than the limit allows
    # unfinished attempts: finished sign-ins are uncounted.
    statuses = []
    for n in range(LIMIT + 3):
        browser = client_at("192.0.2.50")
        assert browser.signed_in_as(proxied) is None
        statuses.append(sign_in(proxied, browser, f"Housemate {n}", 400 + n))
    assert statuses == [200] * (LIMIT + 3)


def test_without_trusted_proxies_a_forwarded_address_is_not_believed(wikibot: WikiBot) -> None:
    server = BridgeServer(wikibot, oauth_version=2)
    with server.config.open("a", encoding="utf-8") as config:
        config.write(f"login_limit = {LIMIT}\n")
    server.start()
    try:
        codes = [
            client_at(f"203.0.113.{n}")
            .http.get(server.url + "/login", allow_redirects=False, timeout=15)
            .status_code
            for n in range(LIMIT + 1)
        ]
    finally:
        server.stop()
    # A client cannot pick a new address per request: all are 127.0.0.1.
    assert codes == [302] * LIMIT + [429]
