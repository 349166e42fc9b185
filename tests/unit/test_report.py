"""`ats report`'s data: the queue, members paid/waived/grace/lapsed, the fund and runway,
as text and CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest

from membership.ledger import LedgerEntry
from membership.report import build_report, render_text, to_csv
from membership.store import Store
from policies.fees import load_fees
from tests.builders import add_request

NOW = datetime.now(UTC).replace(microsecond=0)
TODAY = NOW.date()


def request(store: Store, subject: str, state: str, filed_days_ago: int = 1) -> int:
    filed = (NOW - timedelta(days=filed_days_ago)).isoformat()
    return add_request(store, subject, key=subject, intro_timestamp=filed, state=state).id


def pay(store: Store, member: str, days_ago: int, amount: int = 2000) -> None:
    store.record_payment(
        member,
        amount=amount,
        currency="USD",
        paid_on=(TODAY - timedelta(days=days_ago)).isoformat(),
        method="card",
        reference=f"{member}-{days_ago}",
        recorded_by="Admin",
    )


@pytest.fixture
def filled(store: Store) -> Store:
    request(store, "Open one", "awaiting-requester")
    request(store, "Open two", "awaiting-requester")
    approved = request(store, "Open three", "awaiting-approval", filed_days_ago=10)
    store.add_decision(
        approved,
        kind="approve",
        params={},
        wikitext="{{ATS approve}}",
        ordinal=1,
        revid=5,
        actor="Admin",
        honoured=True,
        reason="admin",
    )
    for member in ("Payer", "Waived", "Grace", "Lapsed"):
        request(store, member, "done")
    pay(store, "Payer", 10)
    waiver = store.request_waiver("Waived", "private reason")
    store.decide_waiver(waiver.id, "Admin", status="granted")
    pay(store, "Grace", 380)
    pay(store, "Lapsed", 500)
    store.add_ledger_entry(
        LedgerEntry(
            "expense", 1200, "USD", TODAY - timedelta(days=5), note="server", recorded_by="A"
        )
    )
    store.add_ledger_entry(LedgerEntry("transfer", 1500, "USD", TODAY, recorded_by="A"))
    store.add_ledger_entry(
        LedgerEntry("waiver", 2000, "USD", TODAY, member="Waived", waiver_id=waiver.id)
    )
    return store


def test_report_figures(filled: Store) -> None:
    report = build_report(filled, load_fees(), NOW)
    assert report.open_count == 3
    assert report.open_by_state == {"awaiting-approval": 1, "awaiting-requester": 2}
    assert report.decided_count == 1 and report.median_days_to_decision == pytest.approx(
        10, abs=0.1
    )
    assert report.standing == {"paid": 1, "waived": 1, "grace": 1, "lapsed": 1}
    assert report.lapsed == ["Lapsed"] and report.grace == ["Grace"]
    # In: 3 × 20.00 (the 500-day-old one too); out: 12.00 expense.
    assert report.balance == 6000 - 1200
    assert report.fund == 1500 - 2000
    assert report.operating == 6000 - 1200 - 1500 + 2000
    assert report.monthly_cost == 100 and report.runway_months == 53
    assert report.surplus == 5300 - 600
    assert report.income_year == 2000 and report.expenses_year == 1200  # 380 days: older
    assert report.waivers_year == 2000
    assert all(
        type(v) is int for v in (report.balance, report.fund, report.operating, report.surplus)
    )


def test_render_text_and_csv(filled: Store) -> None:
    report = build_report(filled, load_fees(), NOW, monthly_cost=5300)
    text = render_text(report)
    assert "open requests: 3 (awaiting-approval 1, awaiting-requester 2)" in text
    assert "paid 1, waived 1, grace 1, lapsed 1" in text
    assert "lapsed (suspend after notice): Lapsed" in text
    assert "held: 48.00 (operating 53.00, waiver fund -5.00)" in text
    assert "runway: 1 months at 53.00 USD a month" in text
    assert "private reason" not in text
    rows = list(csv.reader(io.StringIO(to_csv(report))))
    assert rows[0] == ["section", "item", "value"]
    values = {(r[0], r[1]): r[2] for r in rows[1:]}
    assert values[("money", "fund")] == "-5.00"
    assert values[("money", "runway_months")] == "1"
    assert values[("members", "waived")] == "1"
    assert values[("queue", "state:awaiting-requester")] == "2"
    assert ("lapsed", "Lapsed") in values


def test_an_empty_store(store: Store) -> None:
    report = build_report(store, load_fees(), NOW)
    assert report.open_count == 0 and report.median_days_to_decision is None
    assert report.balance == 0 and report.runway_months is None
    text = render_text(report)
    assert "runway: no expenses recorded" in text and "median days to a decision: -" in text


def test_payments_in_another_currency_are_left_out_and_said(store: Store) -> None:
    store.record_payment(
        "Someone",
        amount=500,
        currency="EUR",
        paid_on=date(2025, 1, 1).isoformat(),
        method="",
        reference="",
        recorded_by="Admin",
    )
    report = build_report(store, load_fees(), NOW)
    assert report.balance == 0 and report.other_currencies == 1
    assert "other currencies" in render_text(report)
