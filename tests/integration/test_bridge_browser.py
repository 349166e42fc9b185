"""The bridge in a real browser (Debian's Chromium through playwright), end to end: a
request filed on the local wiki and answered by the bot, the requester signing in
through the OAuth handshake with the DevOAuth provider, passing their gates on `/me`,
a chapter admin attesting the identification and recording the payment on the admins'
desk, and the request reaching `awaiting-approval` in the store. Every page is saved
as a screenshot under test-artifacts/bridge/."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.builders import ssh_public_key
from tests.integration.bridge_server import BridgeServer
from tests.integration.conftest import WikiBot

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "bridge"
HEADING = "Account request: Veteran"
VETERAN_ID, ADMIN_ID, NEWCOMER_ID = 2, 1, 3
SECURITY_HEADERS = {
    "content-security-policy": "default-src 'none'",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
}


class Visitor:
    """One person's browser context: its page, the CSP violations Chromium reported,
    and the screenshots it took."""

    def __init__(self, browser: Any, bridge: BridgeServer, name: str) -> None:
        self.context = browser.new_context(viewport={"width": 1100, "height": 800})
        self.page = self.context.new_page()
        self.bridge = bridge
        self.name = name
        self.csp_errors: list[str] = []
        self.page.on("console", self._console)

    def _console(self, message: Any) -> None:
        if "Content Security Policy" in message.text:
            self.csp_errors.append(message.text)

    def goto(self, path: str) -> Any:
        return self.page.goto(self.bridge.url + path)

    def log_in(self, username: str, central_id: int, **user: Any) -> None:
        """Sign in through the OAuth handshake, `username` consenting on the wiki."""
        self.bridge.oauth.login_as(username, central_id, **user)
        self.goto("/")
        self.page.get_by_role("link", name="Log in with your wiki account").first.click()
        self.page.wait_for_url(self.bridge.url + "/me")

    def shot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def gates(self) -> dict[str, bool]:
        """The checklist on the page: each gate's label and whether it is done."""
        found = {}
        for item in self.page.locator(".ats-gate").all():
            label = item.inner_text().split("—")[0].strip(" ✔○\n")
            found[label] = "ats-gate--done" in (item.get_attribute("class") or "")
        return found

    def flash(self) -> str:
        return self.page.locator(".cdx-message").first.inner_text()

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def visitors(browser: Any) -> Iterator[Callable[[BridgeServer, str], Visitor]]:
    opened: list[Visitor] = []

    def open_one(bridge: BridgeServer, name: str) -> Visitor:
        visitor = Visitor(browser, bridge, name)
        opened.append(visitor)
        return visitor

    yield open_one
    for visitor in opened:
        visitor.close()


@pytest.fixture
def filed(wikibot: WikiBot) -> int:
    """Veteran's request, filed on the wiki and answered by the bot: awaiting identity."""
    wikibot.file("Veteran", HEADING)
    wikibot.cycle()
    [record] = wikibot.store().requests(wikibot.page)
    assert record.state == "awaiting-identity"
    return record.id


def test_requester_and_admin_bring_a_request_to_awaiting_approval(
    wikibot: WikiBot,
    bridge_server: Callable[..., BridgeServer],
    visitors: Callable[[BridgeServer, str], Visitor],
    filed: int,
) -> None:
    bridge = bridge_server()
    store = wikibot.store()
    requester = visitors(bridge, "Veteran")
    page = requester.page

    requester.goto("/")
    assert page.locator("h1").inner_text() == "American Toolserver"
    requester.shot("01-landing")

    requester.log_in("Veteran", VETERAN_ID, editcount=650)
    assert "Logged in as Veteran" in page.locator("main p").first.inner_text()
    assert page.locator("section.ats-card h2").inner_text() == HEADING
    assert requester.gates() == {
        "Established Wikimedian (or approved by override)": True,
        "Logged in here with your wiki account": True,
        "Terms of use accepted": False,
        "An SSH public key": False,
        "Membership fee settled": False,
        "Identified privately to a chapter admin": False,
        "Approved on-wiki by a chapter admin": False,
    }
    assert page.locator(".ats-state").inner_text() == "⏳ Awaiting requester"
    requester.shot("02-me-signed-in")
    assert store.request_by_id(filed).state == "awaiting-requester"

    page.get_by_role("link", name=re.compile("Read and accept the terms")).click()
    page.wait_for_url(bridge.url + "/terms")
    requester.shot("03-terms")
    page.get_by_role("button", name="I accept these terms").click()
    page.wait_for_url(bridge.url + "/me")
    assert "You accepted the terms of use" in requester.flash()

    key = ssh_public_key("veteran@laptop")
    page.fill("#key", key)
    page.get_by_role("button", name="Add key").click()
    page.wait_for_url(bridge.url + "/me#keys")
    assert re.search(r"Key SHA256:\S+ added\.", requester.flash())
    assert page.locator("#keys table").inner_text().count("SHA256:") == 1
    assert "veteran@laptop" in page.locator("#keys table").inner_text()
    gates = requester.gates()
    assert gates["Terms of use accepted"] and gates["An SSH public key"]
    assert not gates["Membership fee settled"]
    requester.shot("04-me-terms-and-key")

    # The chapter admin, in a browser of their own, lands on the desk after signing in.
    admin = visitors(bridge, "ChapterAdmin")
    bridge.oauth.login_as("ChapterAdmin", ADMIN_ID, groups=("*", "user", "sysop"))
    admin.goto("/admin")
    admin.page.wait_for_url(bridge.url + "/admin")
    row = admin.page.locator("tr", has_text=HEADING)
    assert "Awaiting requester" in row.inner_text()
    pending = "Membership fee settled, Identified privately to a chapter admin, Approved on-wiki"
    assert pending in row.inner_text()
    admin.shot("05-admin-queue")

    row.get_by_role("link", name="Veteran", exact=True).click()
    admin.page.wait_for_url(bridge.url + "/admin/member/Veteran")
    admin.page.fill("#method", "video call")
    admin.page.get_by_role("button", name="Attest identification").click()
    admin.page.wait_for_url(bridge.url + "/admin/member/Veteran")
    assert "Identification of Veteran recorded." in admin.flash()
    assert "Attested by ChapterAdmin" in admin.page.content()

    admin.page.fill("#amount", "20.00")
    admin.page.fill("#pay_method", "bank transfer")
    admin.page.fill("#reference", "TX-2026-0001")
    admin.page.get_by_role("button", name="Record payment").click()
    admin.page.wait_for_url(bridge.url + "/admin/member/Veteran")
    assert re.search(r"Payment by Veteran recorded as #\d+\.", admin.flash())
    assert "Awaiting approval" in admin.page.locator("section.ats-card h2").inner_text()
    admin.shot("06-admin-member")

    record = store.request_by_id(filed)
    assert record is not None and record.state == "awaiting-approval"
    audit = [entry.action for entry in store.audit_log(filed)]
    assert audit.count("gates-state") == 2  # awaiting-requester, then awaiting-approval

    page.reload()
    assert page.locator(".ats-state").inner_text() == "⏳ Awaiting approval"
    assert [label for label, done in requester.gates().items() if not done] == [
        "Approved on-wiki by a chapter admin"
    ]
    assert "20.00 USD paid" in page.locator("#fee").inner_text()
    requester.shot("07-me-awaiting-approval")
    assert requester.csp_errors == [] and admin.csp_errors == []


def test_another_member_sees_nothing_of_the_request(
    bridge_server: Callable[..., BridgeServer],
    visitors: Callable[[BridgeServer, str], Visitor],
    filed: int,
) -> None:
    bridge = bridge_server()
    other = visitors(bridge, "Newcomer")
    other.log_in("Newcomer", NEWCOMER_ID, editcount=12)

    main = other.page.locator("main").inner_text()
    assert "Logged in as Newcomer" in main
    assert "There is no request for the account Newcomer yet." in main
    assert "Veteran" not in other.page.content()
    assert other.page.get_by_role("link", name="Admin desk").count() == 0
    other.shot("08-other-member")

    for path in ("/admin", "/admin/member/Veteran"):
        response = other.goto(path)
        assert response.status == 403
        assert "This page is for the chapter's admins." in other.page.locator("main").inner_text()
        assert "Veteran" not in other.page.locator("main").inner_text().replace(path, "")
    other.shot("09-other-member-admin-refused")


def test_a_post_without_the_csrf_token_is_refused(
    wikibot: WikiBot,
    bridge_server: Callable[..., BridgeServer],
    visitors: Callable[[BridgeServer, str], Visitor],
    filed: int,
) -> None:
    bridge = bridge_server()
    requester = visitors(bridge, "Veteran")
    requester.log_in("Veteran", VETERAN_ID)
    requester.goto("/terms")
    version = requester.page.locator("input[name=version]").get_attribute("value")
    assert version

    # The browser's own cookies, a form without (or with a wrong) token.
    request = requester.context.request
    for form in ({"version": version}, {"version": version, "csrf_token": "forged"}):
        response = request.post(bridge.url + "/terms", form=form, max_redirects=0)
        assert response.status == 400
        assert "did not come from this site" in response.text()
    response = request.post(
        bridge.url + "/keys", form={"key": ssh_public_key("x@y")}, max_redirects=0
    )
    assert response.status == 400

    store = wikibot.store()
    assert store.terms_accepted("Veteran", version) is None
    assert store.ssh_keys("Veteran") == []
    requester.goto("/me")
    assert not requester.gates()["Terms of use accepted"]


def test_security_headers_reach_the_browser(
    bridge_server: Callable[..., BridgeServer],
    visitors: Callable[[BridgeServer, str], Visitor],
    filed: int,
) -> None:
    bridge = bridge_server()
    visitor = visitors(bridge, "Veteran")
    styles: list[Any] = []
    visitor.page.on("response", lambda r: styles.append(r) if r.url.endswith(".css") else None)
    pages = [visitor.goto("/"), visitor.goto("/status")]
    visitor.log_in("Veteran", VETERAN_ID)
    pages.append(visitor.goto("/me"))
    pages.append(visitor.goto("/admin/member/Veteran"))  # a 403 page has them too
    for response in pages:
        headers = response.headers
        for name, start in SECURITY_HEADERS.items():
            assert headers.get(name, "").startswith(start), (response.url, name, headers)
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
    cookie = next(c for c in visitor.context.cookies() if c["name"] == "ats_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and not cookie["secure"]
    # The stylesheet loads under that policy, and Chromium reports no violation.
    assert styles and all(r.status in (200, 304) for r in styles)
    assert visitor.csp_errors == []
