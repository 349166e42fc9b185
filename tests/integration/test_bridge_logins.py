"""Signing in to the real bridge (`ats bridge serve`) in Chromium, with OAuth 2.0 and
1.0a, through the real MediaWiki OAuth extension (the wiki's own login form and its
"Allow" dialog) and through the project's stand-in provider: the same cases against
both — first login, second login without a consent dialog, consent declined, a wrong
consumer secret, an admin reaching the desk, a user who is not the requester."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.builders import request_wikitext
from tests.integration.bridge_server import BridgeServer
from tests.integration.conftest import WikiBot
from tests.integration.realoauth import RealOAuth, provider_for

HEADING = "Account request: Veteran"
STAND_IN_IDS = {"ChapterAdmin": 1, "Veteran": 2, "Newcomer": 3}
LOGIN_LINK = "Log in with your wiki account"


@dataclass
class Side:
    """Where users sign in: the real extension on a local wiki, or the stand-in."""

    kind: str
    version: int
    real: RealOAuth | None
    start_bridge: Callable[..., BridgeServer]

    def bridge(self, **more: Any) -> BridgeServer:
        if self.real is not None:
            more["provider"] = provider_for(self.real)
        return self.start_bridge(oauth_version=self.version, **more)


@pytest.fixture(
    params=[("real", 2), ("real", 1), ("stand-in", 2), ("stand-in", 1)],
    ids=["real-oauth2", "real-oauth1", "standin-oauth2", "standin-oauth1"],
)
def side(request: pytest.FixtureRequest, bridge_server: Callable[..., BridgeServer]) -> Side:
    kind, version = request.param
    real = request.getfixturevalue("realoauth") if kind == "real" else None
    return Side(kind, version, real, bridge_server)


PAGE_TIMEOUT_MS = 90_000
# The consent form once ext.MWOAuth.AuthorizeDialog has put it into its opened dialog.
DIALOG_FORM = ".oo-ui-window-ready .oo-ui-messageDialog-text #mw-mwoauth-authorize-form"


class Person:
    """One person's Chromium context, signing in to ``bridge`` as ``name``."""

    def __init__(self, browser: Any, side: Side, bridge: BridgeServer, name: str) -> None:
        self.context = browser.new_context()
        # The real extension's pages are PHP on one `php -S` process: on a busy machine a
        # login and its consent take longer than Playwright's default 30 s per step.
        self.context.set_default_timeout(PAGE_TIMEOUT_MS)
        self.page = self.context.new_page()
        self.side, self.bridge, self.name = side, bridge, name
        self.consent_dialogs = 0

    def sign_in(self, *, allow: bool = True) -> None:
        """Click the bridge's login link and do what the provider asks: the wiki's login
        form, then Allow (or Cancel) when a consent dialog appears."""
        if self.side.real is None:
            if allow:
                self.bridge.oauth.login_as(self.name, STAND_IN_IDS[self.name])
            else:
                self.bridge.oauth.decline_next()
        self.page.goto(self.bridge.url + "/")
        self.page.get_by_role("link", name=LOGIN_LINK).first.click()
        self.page.wait_for_load_state()
        for _ in range(6):
            if self.page.url.startswith(self.bridge.url):
                return
            if self.page.locator("#wpName1").count():
                assert self.side.real is not None
                password = self.side.real.wiki.seed()[self.name].password
                self.page.fill("#wpName1", self.name)
                self.page.fill("#wpPassword1", password)
                self._submit("#wpLoginAttempt")
                continue
            if self.page.locator("#mw-mwoauth-authorize-form").count():
                self.consent_dialogs += 1
                # The extension's script moves the form into a dialog once the page has
                # loaded: a click while it moves is lost, and nothing is sent.
                self.page.locator(DIALOG_FORM).wait_for()
                self._submit("button[name=accept]" if allow else "button[name=cancel]")
                continue
            return  # a page of the wiki that leads nowhere (a refusal)
        raise AssertionError(f"signing in did not end: {self.page.url}")

    def _submit(self, button: str) -> None:
        """Click a form's button and wait for the page it leads to. Waiting for the address
        to change, then for the page to load, holds however fast the redirects are
        (`expect_navigation` missed one, now and then, and waited out its timeout)."""
        before = self.page.url
        self.page.click(button)
        self.page.wait_for_url(lambda url: url != before)
        self.page.wait_for_load_state()

    def log_out(self) -> None:
        self.page.goto(self.bridge.url + "/me")
        self.page.get_by_role("button", name="Log out").click()
        self.page.wait_for_url(self.bridge.url + "/")

    def text(self) -> str:
        return self.page.locator("body").inner_text()


@pytest.fixture
def people(browser: Any) -> Iterator[Callable[[Side, BridgeServer, str], Person]]:
    opened: list[Person] = []

    def open_one(side: Side, bridge: BridgeServer, name: str) -> Person:
        person = Person(browser, side, bridge, name)
        opened.append(person)
        return person

    yield open_one
    for person in opened:
        person.context.close()


@pytest.fixture
def filed(wikibot: WikiBot) -> None:
    """Veteran's request, filed on the wiki and answered by the bot."""
    wikibot.file("Veteran", HEADING, request_wikitext())
    wikibot.cycle()


def test_first_and_second_login(side: Side, people: Callable[..., Person], filed: None) -> None:
    bridge = side.bridge()
    veteran = people(side, bridge, "Veteran")
    veteran.sign_in()
    assert veteran.page.url == bridge.url + "/me"
    assert "Logged in as Veteran" in veteran.text()
    assert HEADING in veteran.text()
    first = veteran.consent_dialogs
    assert first == (1 if side.real is not None else 0)  # the stand-in consents by login_as

    veteran.log_out()
    veteran.sign_in()
    assert veteran.page.url == bridge.url + "/me"
    assert "Logged in as Veteran" in veteran.text()
    assert veteran.consent_dialogs == first  # no second consent dialog


def test_declined_consent(side: Side, people: Callable[..., Person], filed: None) -> None:
    bridge = side.bridge()
    veteran = people(side, bridge, "Veteran")
    veteran.sign_in(allow=False)
    if side.version == 2:
        assert veteran.page.url.startswith(bridge.url + "/oauth/callback")
        assert "You declined to let this tool know who you are" in veteran.text()
    else:
        # 1.0a: the wiki says so itself and never sends the browser back.
        assert not veteran.page.url.startswith(bridge.url)
    veteran.page.goto(bridge.url + "/me")
    assert "Logged in as" not in veteran.text()


def test_wrong_consumer_secret(side: Side, people: Callable[..., Person], filed: None) -> None:
    bridge = side.bridge(oauth_secret="0" * 40)
    veteran = people(side, bridge, "Veteran")
    veteran.sign_in()
    assert veteran.page.url.startswith(bridge.url)
    text = veteran.text()
    assert "Signing in failed" in text
    assert "ATS_OAUTH_SECRET" in text
    assert "consumer" in text and "Logged in as" not in text


def test_an_admin_reaches_the_desk(side: Side, people: Callable[..., Person], filed: None) -> None:
    bridge = side.bridge()
    admin = people(side, bridge, "ChapterAdmin")
    admin.sign_in()
    assert "Logged in as ChapterAdmin" in admin.text()
    response = admin.page.goto(bridge.url + "/admin")
    assert response is not None and response.status == 200
    assert HEADING in admin.text()


def test_a_user_who_is_not_the_requester(
    side: Side, people: Callable[..., Person], filed: None
) -> None:
    bridge = side.bridge()
    other = people(side, bridge, "Newcomer")
    other.sign_in()
    text = other.text()
    assert "Logged in as Newcomer" in text
    assert "There is no request for the account Newcomer yet." in text
    assert "Veteran" not in text
    response = other.page.goto(bridge.url + "/admin")
    assert response is not None and response.status == 403
