"""Signing in to the real bridge (`ats bridge serve`) with MediaWiki OAuth 2.0 and 1.0a,
over HTTP: `requests` plays the browser and follows every redirect by hand, between the
bridge and the DevOAuth provider, so each hop is seen. A request filed on the local wiki
and answered by the bot is what a sign-in moves forward."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

import pytest
import requests

from tests.builders import request_wikitext
from tests.integration.bridge_server import BridgeServer
from tests.integration.conftest import WikiBot

REDIRECTS = (301, 302, 303, 307, 308)
VETERAN_ID = 2
FRIEND = "Helpful Friend"


class Browser:
    """A cookie jar that follows redirects one hop at a time and remembers them."""

    def __init__(self) -> None:
        self.http = requests.Session()
        self.hops: list[tuple[int, str]] = []

    def get(self, url: str, *, until: str | None = None) -> requests.Response:
        """GET `url` and follow redirects; stop before a Location starting with `until`."""
        response = self.http.get(url, allow_redirects=False, timeout=15)
        while response.status_code in REDIRECTS:
            location = urljoin(response.url, response.headers["Location"])
            self.hops.append((response.status_code, location))
            if until and location.startswith(until):
                return response
            response = self.http.get(location, allow_redirects=False, timeout=15)
        return response

    def signed_in_as(self, bridge: BridgeServer) -> str | None:
        """Whom the bridge takes this browser for (None: it sends it to log in)."""
        response = self.http.get(bridge.url + "/me", allow_redirects=False, timeout=15)
        if response.status_code in REDIRECTS:
            assert urlsplit(response.headers["Location"]).path == "/login"
            return None
        found = re.search(r"Logged in as <strong>([^<]+)</strong>", response.text)
        assert found, response.text
        return found.group(1)


def callback_of(bridge: BridgeServer, browser: Browser) -> str:
    """Start signing in at the bridge and stop at the provider's redirect to the callback."""
    response = browser.get(bridge.url + "/login", until=bridge.url + "/oauth/callback")
    assert response.status_code in REDIRECTS, response.text
    return browser.hops[-1][1]


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {**dict(parse_qsl(parts.query)), **changes}
    return parts._replace(query=urlencode(query)).geturl()


def refused(response: requests.Response, status: int, *phrases: str) -> None:
    """A clear error page: the status, a readable sentence, no traceback."""
    assert response.status_code == status, response.text
    assert "text/html" in response.headers["Content-Type"]
    assert 'role="alert"' in response.text
    for phrase in phrases:
        assert phrase in response.text, response.text
    assert "Traceback" not in response.text


@pytest.fixture
def veteran_request(wikibot: WikiBot) -> int:
    """Veteran's request, filed on the wiki and answered by the bot: awaiting identity."""
    wikibot.file("Veteran", "Account request: Veteran")
    wikibot.cycle()
    [record] = wikibot.store().requests(wikibot.page)
    assert record.state == "awaiting-identity"
    return record.id


@pytest.mark.parametrize("version", [2, 1])
def test_login_through_the_bridge_signs_the_requester_in(
    version: int,
    wikibot: WikiBot,
    bridge_server: Callable[..., BridgeServer],
    veteran_request: int,
) -> None:
    bridge = bridge_server(oauth_version=version)
    bridge.oauth.login_as("Veteran", VETERAN_ID, editcount=650)
    browser = Browser()
    assert browser.signed_in_as(bridge) is None

    page = browser.get(bridge.url + "/login")

    assert page.status_code == 200 and page.url == bridge.url + "/me"
    provider, callback = bridge.oauth.url, bridge.url + "/oauth/callback"
    expected = {
        2: [
            (302, provider + "/rest.php/oauth2/authorize?"),
            (307, provider + "/index.php?title=Special%3AOAuth%2Fapprove&"),
            (302, callback + "?code="),
            (302, bridge.url + "/me"),
        ],
        1: [
            (302, provider + "/index.php?title=Special%3AOAuth%2Fauthenticate&"),
            (302, callback + "?oauth_token="),
            (302, bridge.url + "/me"),
        ],
    }[version]
    assert len(browser.hops) == len(expected), browser.hops
    for (status, location), (want_status, prefix) in zip(browser.hops, expected, strict=True):
        assert status == want_status and location.startswith(prefix), (status, location)
    assert "Logged in as <strong>Veteran</strong>" in page.text
    assert browser.signed_in_as(bridge) == "Veteran"

    store = wikibot.store()
    identity = store.identity("Veteran")
    assert identity is not None and identity.oauth_version == version
    assert str(identity.central_id) == str(VETERAN_ID)
    assert store.request_by_id(veteran_request).state == "awaiting-requester"
    # The session cookie is HttpOnly, SameSite=Lax, and not Secure on plain http.
    [cookie] = [c for c in browser.http.cookies if c.name == "ats_session"]
    assert not cookie.secure and cookie.has_nonstandard_attr("HttpOnly")


def test_a_callback_with_another_state_is_refused(
    wikibot: WikiBot, bridge_server: Callable[..., BridgeServer], veteran_request: int
) -> None:
    bridge = bridge_server(oauth_version=2)
    bridge.oauth.login_as("Veteran", VETERAN_ID)
    browser = Browser()
    genuine = callback_of(bridge, browser)

    page = browser.get(with_query(genuine, state="forged-state"))

    refused(page, 400, "does not match the sign-in this browser started")
    assert browser.signed_in_as(bridge) is None
    # The attempt is spent: even the genuine answer no longer signs anyone in.
    refused(browser.get(genuine), 400, "was not started here")
    assert browser.signed_in_as(bridge) is None
    assert wikibot.store().identity("Veteran") is None
    assert wikibot.store().request_by_id(veteran_request).state == "awaiting-identity"


def test_a_callback_from_another_browser_is_refused(
    bridge_server: Callable[..., BridgeServer], veteran_request: int
) -> None:
    bridge = bridge_server(oauth_version=2)
    bridge.oauth.login_as("Veteran", VETERAN_ID)
    victim_answer = callback_of(bridge, Browser())
    attacker = Browser()
    refused(attacker.get(victim_answer), 400, "was not started here")
    assert attacker.signed_in_as(bridge) is None


def test_declining_on_the_wiki_ends_on_an_error_page_oauth2(
    wikibot: WikiBot, bridge_server: Callable[..., BridgeServer], veteran_request: int
) -> None:
    bridge = bridge_server(oauth_version=2)
    bridge.oauth.login_as("Veteran", VETERAN_ID)
    bridge.oauth.decline_next()
    browser = Browser()

    page = browser.get(bridge.url + "/login")

    assert dict(parse_qsl(urlsplit(browser.hops[-1][1]).query))["error"] == "unauthorized_client"
    refused(page, 400, "You declined to let this tool know who you are")
    assert browser.signed_in_as(bridge) is None
    assert wikibot.store().identity("Veteran") is None


def test_declining_on_the_wiki_ends_on_an_error_page_oauth1(
    wikibot: WikiBot, bridge_server: Callable[..., BridgeServer], veteran_request: int
) -> None:
    bridge = bridge_server(oauth_version=1)
    bridge.oauth.login_as("Veteran", VETERAN_ID)
    bridge.oauth.decline_next()
    browser = Browser()

    # As on a real wiki, a declined 1.0a authorisation stays on the wiki...
    page = browser.get(bridge.url + "/login")
    assert page.url.startswith(bridge.oauth.url) and "You have chosen not to allow" in page.text
    assert browser.signed_in_as(bridge) is None
    # ...and an answer without the wiki's verification code signs nobody in.
    [(_, authorize)] = browser.hops
    token = dict(parse_qsl(urlsplit(authorize).query))["oauth_token"]
    answer = browser.get(f"{bridge.url}/oauth/callback?oauth_token={token}")
    refused(answer, 400, "if you declined, you are not signed in")
    assert browser.signed_in_as(bridge) is None
    assert wikibot.store().identity("Veteran") is None


# Each way the OAuth 1.0a identify JWT can be wrong, and the sentence the user then reads.
BAD_JWTS: dict[str, tuple[dict[str, Any], str]] = {
    "forged signature": (
        {"key": "not-the-consumer-secret-" + "0" * 20},
        "does not match this tool",
    ),
    "expired": ({"exp_offset": -400, "iat_offset": -500}, "had expired before it arrived"),
    "from the future": ({"iat_offset": 600, "exp_offset": 600}, "is dated in the future"),
    "another issuer": ({"iss": "https://evil.example"}, "came from another site"),
    "another audience": ({"aud": "another-consumer"}, "addressed to another application"),
    "another nonce": ({"nonce": "0" * 32}, "belongs to another sign-in attempt"),
    "unsigned": ({"algorithm": "none"}, "not signed the way MediaWiki signs identities"),
}


@pytest.mark.parametrize("case", list(BAD_JWTS))
def test_a_bad_identify_jwt_signs_nobody_in(
    case: str,
    wikibot: WikiBot,
    bridge_server: Callable[..., BridgeServer],
    veteran_request: int,
) -> None:
    bridge = bridge_server(oauth_version=1)
    bridge.oauth.login_as("Veteran", VETERAN_ID)
    overrides, sentence = BAD_JWTS[case]
    bridge.oauth.issue_jwt_with(**overrides)
    browser = Browser()

    page = browser.get(bridge.url + "/login")

    refused(page, 400, "so you were not signed in", sentence)
    assert browser.signed_in_as(bridge) is None
    assert wikibot.store().identity("Veteran") is None
    assert wikibot.store().request_by_id(veteran_request).state == "awaiting-identity"


def test_a_replayed_identify_jwt_signs_nobody_in(
    wikibot: WikiBot, bridge_server: Callable[..., BridgeServer], veteran_request: int
) -> None:
    bridge = bridge_server(oauth_version=1)
    bridge.oauth.login_as("Veteran", VETERAN_ID)
    first = Browser()
    assert first.get(bridge.url + "/login").status_code == 200
    assert first.signed_in_as(bridge) == "Veteran"

    bridge.oauth.issue_jwt_with(replay=True)
    second = Browser()
    page = second.get(bridge.url + "/login")

    refused(page, 400, "had already been used once")
    assert second.signed_in_as(bridge) is None


def test_someone_else_cannot_take_up_a_request_filed_on_another_users_behalf(
    wikibot: WikiBot, bridge_server: Callable[..., BridgeServer]
) -> None:
    # A friend files a request for Veteran's account; only Veteran may carry it forward.
    # (A user of this test's own: an edit by a seeded user would change their history.)
    wikibot.wiki.create_user(FRIEND, "Friend-password-0123456789")
    on_behalf = request_wikitext(username="Veteran")
    wikibot.file(FRIEND, "Account request: for Veteran", on_behalf)
    wikibot.cycle()
    store = wikibot.store()
    [record] = store.requests(wikibot.page)
    assert (record.requester, record.subject, record.state) == (
        FRIEND,
        "Veteran",
        "awaiting-identity",
    )
    bridge = bridge_server(oauth_version=2)

    bridge.oauth.login_as(FRIEND, 50)
    filer = Browser()
    page = filer.get(bridge.url + "/login")
    assert f"Logged in as <strong>{FRIEND}</strong>" in page.text
    assert "for Veteran" not in page.text and "There is no request for the account" in page.text
    # The filer's own facts (terms) are the filer's, not the subject's.
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    terms = filer.get(bridge.url + "/terms")
    version = re.search(r'name="version" value="([^"]+)"', terms.text).group(1)
    accepted = filer.http.post(
        bridge.url + "/terms",
        data={"csrf_token": token, "version": version},
        allow_redirects=False,
        timeout=15,
    )
    assert accepted.status_code == 302
    assert filer.get(bridge.url + "/admin").status_code == 403
    assert filer.get(bridge.url + "/admin/member/Veteran").status_code == 403
    assert store.request_by_id(record.id).state == "awaiting-identity"
    assert store.identity("Veteran") is None
    assert store.terms_accepted("Veteran", version) is None

    bridge.oauth.login_as("Veteran", VETERAN_ID)
    subject = Browser()
    page = subject.get(bridge.url + "/login")
    assert "Account request: for Veteran" in page.text
    assert store.request_by_id(record.id).state == "awaiting-requester"
