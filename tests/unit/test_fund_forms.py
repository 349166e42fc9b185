"""The admins' money page (`/admin/fund`) through Flask's test client: the three forms,
the second admin, CSRF, the refusals as a page with one sentence (never a 500), and the
desk's link. The same page is tested against a real `ats bridge serve` in
tests/integration/test_fund_forms.py."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from membership import ledger
from membership.store import Store


def form(client, section: str) -> dict[str, str]:
    """The CSRF token and the one-time form id of a form on the money page."""
    page = client.get("/admin/fund").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    block = page.split(f'<section id="{section}">', 1)[1]
    form_id = re.search(r'name="form_id" value="([^"]+)"', block)
    assert token and form_id, page
    return {"csrf_token": token.group(1), "form_id": form_id.group(1)}


def pay(store: Store, member: str, amount: int) -> int:
    record = store.record_payment(
        member,
        amount=amount,
        currency="USD",
        paid_on=date.today().isoformat(),
        method="card",
        reference=f"R-{member}-{amount}",
        recorded_by="Admin One",
    )
    [entry] = [e for e in store.ledger_entries(kind="payment") if e.payment_id == record.id]
    assert entry.id is not None
    return entry.id


def alert(response) -> str:
    found = re.search(
        r'role="alert">\s*<div class="cdx-message__content">([^<]+)</div>',
        response.get_data(as_text=True),
    )
    assert found, response.get_data(as_text=True)
    return found.group(1)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/admin/fund"),
        ("post", "/admin/fund/transfer"),
        ("post", "/admin/fund/expense"),
        ("post", "/admin/fund/refund"),
        ("post", "/admin/fund/action/1/confirm"),
        ("post", "/admin/fund/action/1/withdraw"),
    ],
)
def test_the_money_page_is_for_admins_only(app, store, method, path, client_as) -> None:
    anonymous = app.test_client()
    assert anonymous.get("/admin/fund").status_code == 302  # sent to log in
    client = client_as("Example")
    token = re.search(
        r'name="csrf_token" value="([^"]+)"', client.get("/me").get_data(as_text=True)
    )
    assert token
    data = {"csrf_token": token.group(1), "amount": "1.00", "note": "x"}
    response = getattr(client, method)(path, **({"data": data} if method == "post" else {}))
    assert response.status_code == 403
    assert "This page is for the chapter" in response.get_data(as_text=True)


def test_the_desk_links_to_the_money_page(client_as) -> None:
    page = client_as("Admin One").get("/admin").get_data(as_text=True)
    assert 'href="/admin/fund"' in page


def test_a_transfer_an_expense_and_a_refund_through_the_forms(client_as, store) -> None:
    payment = pay(store, "Member", 90_00)
    client = client_as("Admin One")
    page = client.get("/admin/fund").get_data(as_text=True)
    assert '<dd id="operating">90.00 USD</dd>' in page and '<dd id="surplus">90.00 USD</dd>' in page

    response = client.post(
        "/admin/fund/expense",
        data={
            **form(client, "expense"),
            "amount": "12.00",
            "on": date.today().isoformat(),
            "note": "server hosting",
        },
    )
    assert response.status_code == 303
    response = client.post(
        "/admin/fund/refund",
        data={**form(client, "refund"), "payment": str(payment), "amount": "8.00"},
    )
    assert response.status_code == 303
    # 12.00 spent in the year: 1.00 a month, a 6.00 reserve; 70.00 - 6.00 may move.
    page = client.get("/admin/fund").get_data(as_text=True)
    assert '<dd id="surplus">64.00 USD</dd>' in page
    response = client.post(
        "/admin/fund/transfer",
        data={**form(client, "transfer"), "amount": "64.00"},
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert "Done: the transfer of 64.00 USD into the waiver fund" in response.get_data(True)
    entries = store.ledger_entries()
    assert [e.kind for e in entries] == ["payment", "expense", "refund", "transfer"]
    assert ledger.operating_balance(entries) == 6_00 and ledger.fund_balance(entries) == 64_00
    actions = [a.action for a in store.audit_log() if a.action.startswith("fund-")]
    assert actions == [
        "fund-expense-done",
        "fund-refund-done",
        "fund-transfer",
        "fund-transfer-done",
    ]
    assert all(a.actor == "Admin One" for a in store.audit_log() if a.action.startswith("fund-"))


def test_the_reported_transfer_is_refused_with_one_sentence(client_as, store) -> None:
    pay(store, "Member", 10_00)
    client = client_as("Admin One")
    response = client.post(
        "/admin/fund/transfer", data={**form(client, "transfer"), "amount": "1010.00"}
    )
    assert response.status_code == 400
    assert alert(response).startswith(
        "Only 10.00 USD of surplus may move into the fund, not 1010.00 USD"
    )
    assert store.ledger_entries(kind="transfer") == []


@pytest.mark.parametrize(
    ("section", "fields", "phrase"),
    [
        ("transfer", {"amount": "0"}, "more than zero"),
        ("transfer", {"amount": "-5.00"}, "more than zero"),
        ("transfer", {"amount": "1,000.00"}, "is not an amount like 20.00"),
        ("transfer", {"amount": "1.001"}, "more decimals"),
        ("transfer", {"amount": "9" * 30}, "too large to be an amount"),
        ("expense", {"amount": "5.00", "note": "x", "on": "tomorrow"}, "the day the expense"),
        ("expense", {"amount": "5.00", "note": " ", "on": date.today().isoformat()}, "Say what"),
        (
            "expense",
            {"amount": "5.00", "note": "x", "on": (date.today() + timedelta(days=1)).isoformat()},
            "not in the future",
        ),
        ("expense", {"amount": "50.01", "note": "x", "on": date.today().isoformat()}, "below zero"),
        ("refund", {"amount": "5.00", "payment": "x"}, "Choose a payment"),
        ("refund", {"amount": "50.01", "payment": "1"}, "Only 50.00 USD of payment 1"),
        ("transfer", {"amount": "5.00", "note": "n" * 201}, "under 200 characters"),
    ],
)
def test_refusals_are_a_page_with_one_sentence(client_as, store, section, fields, phrase) -> None:
    pay(store, "Member", 50_00)
    client = client_as("Admin One")
    response = client.post(f"/admin/fund/{section}", data={**form(client, section), **fields})
    assert response.status_code == 400
    assert phrase in alert(response)
    assert "Traceback" not in response.get_data(as_text=True)
    assert len(store.ledger_entries()) == 1


def test_a_form_sent_twice_is_recorded_once(client_as, store) -> None:
    pay(store, "Member", 50_00)
    client = client_as("Admin One")
    data = {
        **form(client, "expense"),
        "amount": "5.00",
        "note": "domain",
        "on": date.today().isoformat(),
    }
    assert client.post("/admin/fund/expense", data=data).status_code == 303
    again = client.post("/admin/fund/expense", data=data)
    assert again.status_code == 409
    assert alert(again).startswith("This form was already sent: the expense of 5.00 USD (domain)")
    assert len(store.ledger_entries(kind="expense")) == 1


def test_a_large_refund_waits_for_a_second_admin(client_as, store) -> None:
    payment = pay(store, "Member", 500_00)
    first = client_as("Admin One")
    response = first.post(
        "/admin/fund/refund",
        data={**form(first, "refund"), "payment": str(payment), "amount": "150.00"},
        follow_redirects=True,
    )
    assert "waits for a second admin" in response.get_data(as_text=True)
    assert store.ledger_entries(kind="refund") == []
    [waiting] = store.fund_actions(status="proposed")
    page = first.get("/admin/fund").get_data(as_text=True)
    assert f"/admin/fund/action/{waiting.id}/confirm" not in page  # not for the proposer
    assert "1 waiting for a second admin" in first.get("/admin").get_data(as_text=True)
    token = form(first, "refund")["csrf_token"]
    refused = first.post(f"/admin/fund/action/{waiting.id}/confirm", data={"csrf_token": token})
    assert refused.status_code == 400 and "a second admin must confirm" in alert(refused)

    second = client_as("Admin Two")
    page = second.get("/admin/fund").get_data(as_text=True)
    assert f"/admin/fund/action/{waiting.id}/confirm" in page
    token = form(second, "refund")["csrf_token"]
    done = second.post(
        f"/admin/fund/action/{waiting.id}/confirm",
        data={"csrf_token": token},
        follow_redirects=True,
    )
    assert "proposed by Admin One, confirmed by Admin Two" in done.get_data(as_text=True)
    assert ledger.refunded(store.ledger_entries(), payment) == 150_00
    again = second.post(f"/admin/fund/action/{waiting.id}/confirm", data={"csrf_token": token})
    assert again.status_code == 409
    assert "Already done" in alert(again) and "confirmed by Admin Two" in alert(again)
    missing = second.post("/admin/fund/action/999/confirm", data={"csrf_token": token})
    assert missing.status_code == 400 and "no action 999" in alert(missing)


def test_a_proposal_can_be_withdrawn(client_as, store) -> None:
    pay(store, "Member", 500_00)
    client = client_as("Admin One")
    client.post("/admin/fund/transfer", data={**form(client, "transfer"), "amount": "200.00"})
    [waiting] = store.fund_actions(status="proposed")
    token = form(client, "transfer")["csrf_token"]
    response = client.post(
        f"/admin/fund/action/{waiting.id}/withdraw",
        data={"csrf_token": token},
        follow_redirects=True,
    )
    assert "Withdrawn: the transfer of 200.00 USD" in response.get_data(as_text=True)
    assert store.fund_action(waiting.id).status == "withdrawn"  # type: ignore[union-attr]
    assert store.ledger_entries(kind="transfer") == []


def test_an_admins_own_payment_is_not_offered_for_refund(client_as, store) -> None:
    own = pay(store, "Admin One", 20_00)
    client = client_as("Admin One")
    page = client.get("/admin/fund").get_data(as_text=True)
    assert "No payment has anything left to refund." in page
    response = client.post(
        "/admin/fund/refund",
        data={**form(client, "transfer"), "payment": str(own), "amount": "5.00"},
    )
    assert response.status_code == 400 and "their own payment" in alert(response)
    other = client_as("Admin Two")
    assert f'<option value="{own}">' in other.get("/admin/fund").get_data(as_text=True)


def test_posts_without_csrf_are_refused(client_as, store) -> None:
    pay(store, "Member", 50_00)
    client = client_as("Admin One")
    response = client.post("/admin/fund/transfer", data={"amount": "5.00"})
    assert response.status_code == 400
    assert store.ledger_entries(kind="transfer") == []
