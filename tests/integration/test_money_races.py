"""Money counted once under the real bridge (`ats bridge serve`, four threads) and real
HTTP sessions signed in through the OAuth provider: a requester double-submitting the
waiver form, two admins confirming one waiver, one payment reference sent from two tabs
and a second admin — 20 rounds each, all at once — and two `ats payments import`
processes on one CSV. Each round ends with no second payment, waiver or fund debit
for one member-year and no HTTP 500; the losing side reads a clear message. Then the
cases testers saw, each through the bridge or the CLI as they saw them."""

from __future__ import annotations

import html
import re
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import date

import pytest
import requests

from membership import fund, ledger, waivers
from membership.store import Store
from policies.fees import load_fees
from tests.builders import add_request
from tests.integration.bridge_server import BridgeServer
from tests.integration.conftest import WikiBot
from tests.integration.test_bridge_oauth import FRIEND, VETERAN_ID, Browser

POLICY = load_fees()
FEE = POLICY.annual_fee
ROUNDS = 20
ADMINS = ("ChapterAdmin", "Newcomer", "Dormant")  # three, so two can race to confirm
TODAY = date.today()


def signed_in(bridge: BridgeServer, name: str, central_id: int) -> Browser:
    bridge.oauth.login_as(name, central_id, editcount=600)
    browser = Browser()
    assert browser.get(bridge.url + "/login").url.startswith(bridge.url)
    return browser


def tab(browser: Browser) -> Browser:
    """A second tab: the same session cookie, its own connection."""
    other = Browser()
    other.http.cookies.update(browser.http.cookies)
    return other


def csrf(browser: Browser, url: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', browser.get(url).text)
    assert found, url
    return found.group(1)


def at_once(posts: list[Callable[[], requests.Response]]) -> list[requests.Response]:
    """Send the posts together (a barrier releases them at once); every response."""
    barrier = threading.Barrier(len(posts))
    answers: list[requests.Response | BaseException] = [None] * len(posts)  # type: ignore[list-item]

    def send(i: int) -> None:
        barrier.wait()
        try:
            answers[i] = posts[i]()
        except BaseException as error:  # noqa: BLE001 - reported below
            answers[i] = error

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(posts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for answer in answers:
        assert isinstance(answer, requests.Response), answer
    return answers  # type: ignore[return-value]


def post(browser: Browser, url: str, data: dict[str, str]) -> Callable[[], requests.Response]:
    return lambda: browser.http.post(url, data=data, allow_redirects=False, timeout=30)


def no_500(responses: list[requests.Response]) -> None:
    for response in responses:
        assert response.status_code in (302, 303), (response.status_code, response.text[:2000])


def flashes(browser: Browser, url: str) -> str:
    """The messages the next page shows (each losing side reads one)."""
    text = browser.get(url).text
    return html.unescape(" ".join(re.findall(r'class="cdx-message__content">(.*?)</div>', text)))


def fund_in(store: Store, payer: str, amount: int) -> None:
    """Operating money, then moved into the waiver fund (the admins' tools do the same)."""
    store.record_payment(
        payer,
        amount=amount,
        currency="USD",
        paid_on=TODAY.isoformat(),
        method="donation",
        reference=f"GIFT-{amount}-{len(store.payments())}",
        recorded_by="ChapterAdmin",
    )
    fund.transfer_surplus(store, amount, POLICY, "ChapterAdmin", TODAY)


# -- races ---------------------------------------------------------------------------


def test_a_double_submitted_waiver_form_makes_one_request(
    wikibot: WikiBot, bridge_server: Callable[..., BridgeServer]
) -> None:
    bridge = bridge_server()
    veteran = signed_in(bridge, "Veteran", VETERAN_ID)
    second = tab(veteran)
    token = csrf(veteran, bridge.url + "/me")
    store = wikibot.store()
    for round_ in range(ROUNDS):
        data = {"csrf_token": token, "reason": f"cannot pay, round {round_}"}
        no_500(at_once([post(b, bridge.url + "/waiver", data) for b in (veteran, second)]))
        open_ = store.waivers("Veteran", status="requested")
        assert len(open_) == 1, (round_, open_)
        assert len(store.waivers("Veteran")) == round_ + 1
        # An admin refuses it, so the next round may ask again.
        store.decide_waiver(open_[0].id, "ChapterAdmin", status="refused")
    # The second submission is told why, in one line. (Two tabs share one session, so
    # in a race one tab's message may replace the other's: this is checked in turn.)
    data = {"csrf_token": token, "reason": "cannot pay"}
    for _ in range(2):
        no_500([post(veteran, bridge.url + "/waiver", data)()])
    assert "You already asked for a waiver (request #" in flashes(veteran, bridge.url + "/me")


def test_two_admins_confirming_one_waiver_pay_it_once(
    wikibot: WikiBot, bridge_server: Callable[..., BridgeServer]
) -> None:
    bridge = bridge_server(admins=ADMINS)
    store = wikibot.store()
    fund_in(store, "Donor", ROUNDS * FEE)
    members = [f"Member {n:02d}" for n in range(ROUNDS)]
    ids = []
    for name in members:
        asked = store.request_waiver(name, "cannot pay")
        first = waivers.decide(asked, "ChapterAdmin", "grant", needs_second=True)
        fund.settle_waiver(store, asked, first, "ChapterAdmin", POLICY, TODAY)
        ids.append(asked.id)
    newcomer = signed_in(bridge, "Newcomer", 11)
    dormant = signed_in(bridge, "Dormant", 12)
    tokens = {b: csrf(b, bridge.url + "/admin") for b in (newcomer, dormant)}
    before = ledger.fund_balance(store.ledger_entries())
    for n, waiver_id in enumerate(ids):
        url = f"{bridge.url}/admin/waiver/{waiver_id}"
        answers = at_once(
            [post(b, url, {"csrf_token": tokens[b], "action": "grant"}) for b in tokens]
        )
        no_500(answers)
        paid = [e for e in store.ledger_entries(kind="waiver") if e.waiver_id == waiver_id]
        assert len(paid) == 1, (n, paid)
        assert ledger.fund_balance(store.ledger_entries()) == before - (n + 1) * FEE
        said = " ".join(flashes(b, bridge.url + f"/admin/member/{members[n]}") for b in tokens)
        assert "Waiver granted" in said and "already granted: confirmed by" in said, said
    assert ledger.fund_balance(store.ledger_entries()) == before - ROUNDS * FEE


def test_one_reference_from_two_tabs_and_a_second_admin_is_one_payment(
    wikibot: WikiBot, bridge_server: Callable[..., BridgeServer]
) -> None:
    bridge = bridge_server(admins=ADMINS)
    admin = signed_in(bridge, "ChapterAdmin", 3)
    other = signed_in(bridge, "Newcomer", 11)
    browsers = (admin, tab(admin), other)
    url = bridge.url + "/admin/member/Payer"
    store = wikibot.store()
    add_request(store, "Payer")  # admins record payments for someone the bridge knows
    tokens = [csrf(b, url) for b in browsers]
    for round_ in range(ROUNDS):
        spellings = (f"REF-{round_}", f"ref-{round_} ", f" Ref-{round_}")
        posts = [
            post(
                b,
                url + "/payment",
                {
                    "csrf_token": token,
                    "amount": "20.00",
                    "currency": "USD",
                    "paid_on": TODAY.isoformat(),
                    "method": "bank transfer",
                    "reference": reference,
                },
            )
            for b, token, reference in zip(browsers, tokens, spellings, strict=True)
        ]
        no_500(at_once(posts))
        assert len(store.payments("Payer")) == round_ + 1, round_
    flashes(admin, url)  # read what the races left, then send a known reference again
    data = {
        "csrf_token": tokens[0],
        "amount": "20.00",
        "currency": "USD",
        "method": "Bank  transfer",
    }
    no_500(
        [
            post(
                admin,
                url + "/payment",
                {**data, "paid_on": TODAY.isoformat(), "reference": "ref-3"},
            )()
        ]
    )
    said = flashes(admin, url)
    assert re.search(r"is already recorded as payment #\d+ \(Payer, 20\.00 USD", said), said
    assert len(store.ledger_entries(kind="payment")) == ROUNDS


@pytest.mark.process
def test_two_imports_of_one_csv_at_once_record_each_row_once(wikibot: WikiBot) -> None:
    store = wikibot.store()
    names = [f"Member {n:02d}" for n in range(ROUNDS)]
    for n, name in enumerate(names):
        add_request(store, name, page=wikibot.page, key=f"k{n}", state="awaiting-requester")
    command = [sys.executable, "-m", "ats.cli", "--config", str(wikibot.config)]
    for round_ in range(3):
        csv = wikibot.root / f"export-{round_}.csv"
        csv.write_text(
            "date,reference,payer_wiki_username,amount,currency,method\n"
            + "".join(
                f"{TODAY},R{round_}-{n},{name},5.00,USD,card\n" for n, name in enumerate(names)
            ),
            encoding="utf-8",
        )
        runs = [
            subprocess.Popen(
                [*command, "payments", "import", str(csv), "--by", "ChapterAdmin"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        outputs = [run.communicate(timeout=120) for run in runs]
        for _out, err in outputs:
            assert "Traceback" not in err, err
        counts = sorted(
            tuple(int(x) for x in re.findall(r"(\d+) imported, (\d+) already", out)[0])
            for out, _ in outputs
        )
        assert counts[0][0] + counts[1][0] == ROUNDS, outputs
        assert len(store.payments()) == (round_ + 1) * ROUNDS


# -- the cases testers saw -----------------------------------------------------------


def test_what_was_seen_through_the_bridge(
    wikibot: WikiBot, bridge_server: Callable[..., BridgeServer]
) -> None:
    bridge = bridge_server(admins=ADMINS)
    store = wikibot.store()
    admin = signed_in(bridge, "ChapterAdmin", 3)
    second = signed_in(bridge, "Newcomer", 11)
    veteran = signed_in(bridge, "Veteran", VETERAN_ID)
    me = bridge.url + "/me"
    page = bridge.url + "/admin/member/Veteran"
    tokens = {b: csrf(b, page if b is not veteran else me) for b in (admin, second, veteran)}

    def pay(reference: str, amount: str = "20.00", currency: str = "USD") -> requests.Response:
        data = {
            "csrf_token": tokens[admin],
            "amount": amount,
            "currency": currency,
            "paid_on": TODAY.isoformat(),
            "method": "card",
            "reference": reference,
        }
        response = admin.http.post(page + "/payment", data=data, allow_redirects=False, timeout=30)
        assert response.status_code in (302, 303), response.text[:2000]
        return response

    def decide(browser: Browser, waiver_id: int) -> None:
        data = {"csrf_token": tokens[browser], "action": "grant"}
        url = f"{bridge.url}/admin/waiver/{waiver_id}"
        response = browser.http.post(url, data=data, allow_redirects=False, timeout=30)
        assert response.status_code in (302, 303), response.text[:2000]

    def ask(requester: Browser = veteran) -> str:
        data = {"csrf_token": tokens[requester], "reason": "cannot pay"}
        response = requester.http.post(me[:-3] + "/waiver", data=data, allow_redirects=False)
        assert response.status_code in (302, 303), response.text[:2000]
        return flashes(requester, me)

    # 3: another currency, an amount the store cannot hold, an absurd one: clear errors.
    pay("EUR-1", currency="EUR")
    assert "the ledger is kept in USD" in flashes(admin, page)
    pay("BIG", amount=str(2**63))
    assert "too large" in flashes(admin, page)
    pay("HUGE", amount=str(10**15))
    assert "largest payment" in flashes(admin, page)
    assert store.payments() == []

    # 1: the fund pays a member's year once. A queued waiver (the fund is empty) is
    # withdrawn when the member pays, and the requester is told; the top-up pays nothing.
    assert "sent to the chapter's admins" in ask()
    [asked] = store.waivers("Veteran")
    decide(admin, asked.id)
    decide(second, asked.id)
    assert fund.queue_position(store, asked.id) == 1
    pay("TXN-7")
    assert f"waiver request #{asked.id} is withdrawn" in flashes(admin, page)
    assert store.waiver(asked.id).status == "withdrawn"
    assert "withdrawn because your fee for this year is settled" in veteran.get(me).text
    fund_in(store, "Donor", 10 * FEE)
    assert store.ledger_entries(kind="waiver") == []
    # A member who paid cannot ask, nor be granted, a fund-paid waiver.
    assert "is paid; there is nothing to waive" in ask()

    # A member whose waiver was granted and paid cannot ask again the same year.
    friend = signed_in(bridge, FRIEND, 77)
    tokens[friend] = csrf(friend, me)
    assert "sent to the chapter's admins" in ask(friend)
    [theirs] = store.waivers(FRIEND)
    decide(admin, theirs.id)
    decide(second, theirs.id)
    assert store.waiver(theirs.id).status == "granted"
    assert "covers you until" in ask(friend)
    assert [e.member for e in store.ledger_entries(kind="waiver")] == [FRIEND]

    # 2: the form refuses a known reference, in any case or spacing, and shows the payment.
    [paid] = store.payments("Veteran")
    pay("  txn-7 ")
    said = flashes(admin, page)
    assert f"already recorded as payment #{paid.id} (Veteran, 20.00 USD" in said, said
    assert len(store.payments()) == 2  # Veteran's and the donor's
