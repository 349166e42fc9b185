"""The admins' money page on a real `ats bridge serve`, over real HTTP sessions: signed
in through the OAuth provider, the admins move surplus into the waiver fund, record an
expense and refund a payment; a non-admin is refused; the reported transfer (1,010.00
with 10.00 of surplus) is refused in one sentence; two admins (and a double submit)
transferring at once never move more than the surplus, and two admins confirming the
same refund while the proposer withdraws it pay it at most once — 20 rounds each, and
never a 500. The page once in a real browser (Chromium), screenshots under
test-artifacts/bridge/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any

import pytest
import requests

from devtools.sample import ADMIN
from membership import ledger
from membership.store import Store
from tests.integration.bridge_server import BridgeServer
from tests.integration.conftest import WikiBot
from tests.integration.test_bridge_browser import Visitor
from tests.integration.test_bridge_oauth import Browser

TREASURER, AUDITOR = "Treasurer", "Auditor"
IDS = {ADMIN: 1, TREASURER: 70, AUDITOR: 71, "Newcomer": 3}
ROUNDS = 20


@pytest.fixture
def bridge(wikibot: WikiBot) -> Iterator[BridgeServer]:
    server = BridgeServer(wikibot, admins=(ADMIN, TREASURER, AUDITOR)).start()
    yield server
    server.stop()
    assert "Traceback" not in server.log(), server.log()


def signed_in(bridge: BridgeServer, username: str) -> Browser:
    bridge.oauth.login_as(username, IDS[username], editcount=600)
    browser = Browser()
    assert browser.get(bridge.url + "/login").url == bridge.url + "/me"
    assert browser.signed_in_as(bridge) == username
    return browser


def tab(browser: Browser) -> Browser:
    """A second tab of the same browser: the same session cookie."""
    other = Browser()
    other.http.cookies.update(browser.http.cookies)
    return other


def form(browser: Browser, bridge: BridgeServer, section: str) -> dict[str, str]:
    page = browser.http.get(bridge.url + "/admin/fund", timeout=15)
    assert page.status_code == 200, page.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    block = page.text.split(f'<section id="{section}">', 1)[1]
    form_id = re.search(r'name="form_id" value="([^"]+)"', block)
    assert token and form_id, page.text
    return {"csrf_token": token.group(1), "form_id": form_id.group(1)}


def post(browser: Browser, bridge: BridgeServer, path: str, data: dict[str, str]):
    return browser.http.post(bridge.url + path, data=data, allow_redirects=False, timeout=30)


def alert(response: requests.Response) -> str:
    found = re.search(
        r'role="alert">\s*<div class="cdx-message__content">([^<]+)</div>', response.text
    )
    assert found, response.text
    return found.group(1).replace("&#39;", "'")


def pay(store: Store, member: str, amount: int) -> int:
    record = store.record_payment(
        member,
        amount=amount,
        currency="USD",
        paid_on=date.today().isoformat(),
        method="bank transfer",
        reference=f"REF-{member}-{len(store.payments())}",
        recorded_by=ADMIN,
    )
    [entry] = [e for e in store.ledger_entries(kind="payment") if e.payment_id == record.id]
    assert entry.id is not None
    return entry.id


def test_the_money_forms_end_to_end(wikibot: WikiBot, bridge: BridgeServer) -> None:
    store = wikibot.store()
    payment = pay(store, "Veteran", 10_00)

    newcomer = signed_in(bridge, "Newcomer")
    refused = newcomer.http.get(bridge.url + "/admin/fund", timeout=15)
    assert refused.status_code == 403 and "This page is for the chapter" in refused.text
    token = re.search(
        r'name="csrf_token" value="([^"]+)"', newcomer.http.get(bridge.url + "/me").text
    )
    assert token
    response = post(
        newcomer, bridge, "/admin/fund/transfer", {"csrf_token": token.group(1), "amount": "1.00"}
    )
    assert response.status_code == 403

    admin = signed_in(bridge, ADMIN)
    desk = admin.http.get(bridge.url + "/admin", timeout=15).text
    assert 'href="/admin/fund"' in desk
    # The reported case: 1,010.00 with 10.00 of surplus.
    response = post(
        admin,
        bridge,
        "/admin/fund/transfer",
        {**form(admin, bridge, "transfer"), "amount": "1010.00"},
    )
    assert response.status_code == 400
    assert alert(response).startswith(
        "Only 10.00 USD of surplus may move into the fund, not 1010.00 USD"
    )
    assert store.ledger_entries(kind="transfer") == []
    assert ledger.operating_balance(store.ledger_entries()) == 10_00

    pay(store, "Newcomer", 110_00)
    steps = [
        ("expense", {"amount": "12.00", "note": "server", "on": date.today().isoformat()}),
        ("refund", {"amount": "4.00", "payment": str(payment)}),
        ("transfer", {"amount": "98.00"}),  # 104.00 less a 6.00 reserve
    ]
    for kind, fields in steps:
        response = post(
            admin, bridge, f"/admin/fund/{kind}", {**form(admin, bridge, kind), **fields}
        )
        assert response.status_code == 303, response.text
        page = admin.get(bridge.url + "/admin/fund")
        assert 'role="status"' in page.text and "Done: the " + kind in page.text
    entries = store.ledger_entries()
    assert ledger.fund_balance(entries) == 98_00 and ledger.operating_balance(entries) == 6_00
    assert ledger.refunded(entries, payment) == 4_00
    # Operating money is the reserve now: a further expense would take it below zero.
    response = post(
        admin,
        bridge,
        "/admin/fund/expense",
        {
            **form(admin, bridge, "expense"),
            "amount": "6.01",
            "note": "domain",
            "on": date.today().isoformat(),
        },
    )
    assert response.status_code == 400 and "below zero" in alert(response)
    audited = [a.action for a in store.audit_log() if a.action.startswith("fund-")]
    assert audited == [
        "fund-expense-done",
        "fund-refund-done",
        "fund-transfer",
        "fund-transfer-done",
    ]


def test_two_admins_transferring_at_once_never_move_more_than_the_surplus(
    wikibot: WikiBot, bridge: BridgeServer
) -> None:
    store = wikibot.store()
    pay(store, "Veteran", 120_00)
    first, second = signed_in(bridge, ADMIN), signed_in(bridge, TREASURER)
    first_again = tab(first)
    response = post(
        first,
        bridge,
        "/admin/fund/expense",
        {
            **form(first, bridge, "expense"),
            "amount": "12.00",
            "note": "server",
            "on": date.today().isoformat(),
        },
    )
    assert response.status_code == 303  # 1.00 a month: a 6.00 reserve
    moved = 0
    with ThreadPoolExecutor(max_workers=3) as pool:
        for round_ in range(ROUNDS):
            pay(store, f"Member{round_}", 30_00)
            entries = store.ledger_entries()
            surplus = ledger.operating_balance(entries) - 6_00
            amount = surplus // 2 + 1  # one of them fits, two do not
            assert 2 * amount > surplus and amount <= 100_00  # no second admin needed
            text = f"{amount // 100}.{amount % 100:02d}"
            mine = {**form(first, bridge, "transfer"), "amount": text}
            theirs = {**form(second, bridge, "transfer"), "amount": text}
            futures = [
                pool.submit(post, first, bridge, "/admin/fund/transfer", mine),
                pool.submit(post, first_again, bridge, "/admin/fund/transfer", mine),
                pool.submit(post, second, bridge, "/admin/fund/transfer", theirs),
            ]
            responses = [f.result() for f in futures]
            statuses = sorted(r.status_code for r in responses)
            assert statuses.count(303) == 1, (round_, statuses)
            for lost in (r for r in responses if r.status_code != 303):
                assert lost.status_code in (400, 409), lost.text
                assert alert(lost).startswith(("Only ", "This form was already sent"))
            moved += amount
            entries = store.ledger_entries()
            assert ledger.fund_balance(entries) == moved
            assert ledger.operating_balance(entries) >= 6_00
    assert len(store.ledger_entries(kind="transfer")) == ROUNDS


def test_a_refund_confirmed_twice_is_paid_once(wikibot: WikiBot, bridge: BridgeServer) -> None:
    store = wikibot.store()
    proposer = signed_in(bridge, ADMIN)
    confirmers = [signed_in(bridge, TREASURER), signed_in(bridge, AUDITOR)]
    outcomes = {"confirmed": 0, "withdrawn": 0}
    with ThreadPoolExecutor(max_workers=3) as pool:
        for round_ in range(ROUNDS):
            payment = pay(store, f"Member{round_}", 200_00)
            response = post(
                proposer,
                bridge,
                "/admin/fund/refund",
                {**form(proposer, bridge, "refund"), "payment": str(payment), "amount": "150.00"},
            )
            assert response.status_code == 303
            [action] = store.fund_actions(status="proposed")
            path = f"/admin/fund/action/{action.id}"
            tokens = [form(b, bridge, "refund")["csrf_token"] for b in (proposer, *confirmers)]
            futures = [
                pool.submit(
                    post, confirmers[0], bridge, path + "/confirm", {"csrf_token": tokens[1]}
                ),
                pool.submit(
                    post, confirmers[1], bridge, path + "/confirm", {"csrf_token": tokens[2]}
                ),
                pool.submit(post, proposer, bridge, path + "/withdraw", {"csrf_token": tokens[0]}),
            ]
            responses = [f.result() for f in futures]
            assert sorted(r.status_code for r in responses) == [303, 409, 409], round_
            for lost in (r for r in responses if r.status_code == 409):
                assert alert(lost).startswith(
                    (
                        "Already done: the refund of 150.00 USD",
                        "Nothing to do: the refund of 150.00 USD",
                    )
                )
            closed = store.fund_action(action.id)
            assert closed is not None and closed.status in ("done", "withdrawn")
            outcomes["confirmed" if closed.status == "done" else "withdrawn"] += 1
            refunded = ledger.refunded(store.ledger_entries(), payment)
            assert refunded == (150_00 if closed.status == "done" else 0)
    refunds = store.ledger_entries(kind="refund")
    assert len(refunds) == outcomes["confirmed"]
    assert len({e.refund_of for e in refunds}) == len(refunds)


def test_the_money_page_in_a_real_browser(
    wikibot: WikiBot, bridge: BridgeServer, browser: Any
) -> None:
    store = wikibot.store()
    pay(store, "Veteran", 10_00)
    admin = Visitor(browser, bridge, ADMIN)
    try:
        admin.log_in(ADMIN, IDS[ADMIN], groups=("*", "user", "sysop"))
        admin.goto("/admin")
        admin.page.get_by_role("link", name=re.compile("^Money: refunds")).click()
        admin.page.wait_for_url(bridge.url + "/admin/fund")
        assert admin.page.locator("#surplus").inner_text() == "10.00 USD"
        admin.page.fill("#transfer-amount", "1010.00")
        admin.page.get_by_role("button", name="Move into the fund").click()
        admin.page.wait_for_load_state()
        assert admin.flash().startswith("Only 10.00 USD of surplus may move into the fund")
        admin.shot("20-fund-transfer-refused")
        admin.page.fill("#transfer-amount", "10.00")
        admin.page.get_by_role("button", name="Move into the fund").click()
        admin.page.wait_for_url(bridge.url + "/admin/fund")
        assert admin.flash().startswith("Done: the transfer of 10.00 USD into the waiver fund")
        assert admin.page.locator("#fund").inner_text() == "10.00 USD"
        admin.shot("21-fund-transfer-done")
        assert admin.csp_errors == []
    finally:
        admin.close()
