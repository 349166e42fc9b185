"""Importing a payment processor's CSV: one format, idempotent by reference, unmatched
and malformed rows reported with their line numbers, exact amounts."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from membership.payments_csv import import_payments, parse_rows
from membership.store import Store
from policies.fees import load_fees
from tests.builders import add_request

TODAY = date(2025, 6, 1)
HEADER = "date,reference,payer_wiki_username,amount,currency,method\n"
GOOD = (
    HEADER
    + "2025-03-01,TX-1,Example,20.00,USD,card\n"
    + "2025-03-02,TX-2,other_user,20,usd,bank transfer\n"
)


@pytest.fixture
def store(store: Store) -> Store:
    """The shared store with two requesters who may pay."""
    for n, subject in enumerate(("Example", "Other user")):
        add_request(store, subject, key=f"k{n}", state="awaiting-requester")
    return store


def run(store: Store, text: str | Path):  # noqa: ANN201 - the report
    return import_payments(store, text, "Treasurer", policy=load_fees(), today=TODAY)


def test_import_records_payments_and_mirrors_them_in_the_ledger(store: Store) -> None:
    report = run(store, GOOD)
    assert report.ok and [r.reference for r in report.imported] == ["TX-1", "TX-2"]
    assert report.members == ["Example", "Other user"]
    payments = store.payments()
    assert [(p.username, p.amount, p.currency, p.paid_on, p.method) for p in payments] == [
        ("Example", 2000, "USD", "2025-03-01", "card"),
        ("Other user", 2000, "USD", "2025-03-02", "bank transfer"),
    ]
    assert [e.reference for e in store.ledger_entries(kind="payment")] == ["TX-1", "TX-2"]
    assert {a.action for a in store.audit_log()} == {"payment-imported"}


def test_importing_the_same_file_again_changes_nothing(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(GOOD, "utf-8")
    assert len(run(store, path).imported) == 2
    before = (store.payments(), store.ledger_entries(), store.audit_log())
    again = run(store, path)
    assert again.imported == [] and len(again.already) == 2 and again.ok
    assert (store.payments(), store.ledger_entries(), store.audit_log()) == before


def test_a_row_for_no_member_is_reported_not_dropped(store: Store) -> None:
    report = run(store, HEADER + "2025-03-01,TX-9,Stranger,20.00,USD,card\n")
    assert not report.ok and report.imported == []
    assert [(r.line, r.username, r.reference) for r in report.unmatched] == [
        (2, "Stranger", "TX-9")
    ]
    assert "line 2: no request for 'Stranger'" in report.summary()
    assert store.payments() == []


def test_malformed_rows_are_reported_with_line_and_reason(store: Store) -> None:
    text = (
        HEADER
        + "2025-03-01,TX-1,Example,20.00,USD,card\n"  # line 2: good
        + "\n"  # line 3: blank, skipped
        + "2025-13-01,TX-2,Example,20.00,USD,card\n"  # line 4
        + "2025-03-01,TX-3,Example,20.001,USD,card\n"  # line 5
        + "2025-03-01,TX-4,Example,-20,USD,card\n"  # line 6
        + "2025-03-01,TX-5,Example,20.00,EUR,card\n"  # line 7
        + "2025-03-01,,Example,20.00,USD,card\n"  # line 8
        + '2025-03-01,TX-6,Example,"1,000.00",USD,card\n'  # line 9
        + "2025-03-01,TX-7,Example\n"  # line 10
        + "2025-03-01,TX-1,Example,20.00,USD,card\n"  # line 11: same reference
        + "2030-01-01,TX-8,Example,20.00,USD,card\n"  # line 12
        + "2025-03-01,TX-9,Example,0,USD,card\n"  # line 13
        + '2025-03-01,TX-10,Example,20.00,USD,"card\nsplit"\n'  # lines 14-15: good
        + "2025-03-01,TX-11,,20.00,USD,card\n"  # line 16
    )
    report = run(store, text)
    reasons = {p.line: p.reason for p in report.problems}
    assert sorted(reasons) == [4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 16]
    assert "YYYY-MM-DD" in reasons[4]
    assert "more decimals than USD has (2)" in reasons[5]
    assert "more than zero" in reasons[6] and "more than zero" in reasons[13]
    assert "EUR" in reasons[7] and "reference" in reasons[8]
    assert "not an amount" in reasons[9] and "columns" in reasons[10]
    assert "also on line 2" in reasons[11] and "future" in reasons[12]
    assert "payer_wiki_username" in reasons[16]
    assert [r.reference for r in report.imported] == ["TX-1", "TX-10"]
    assert [p.amount for p in store.payments()] == [2000, 2000]


def test_a_reference_reused_with_other_details_is_a_problem(store: Store) -> None:
    run(store, GOOD)
    report = run(store, HEADER + "2025-03-05,TX-1,Example,25.00,USD,card\n")
    assert report.imported == [] and report.already == []
    assert "different details" in report.problems[0].reason
    assert len(store.payments()) == 2


def test_header_and_empty_file() -> None:
    rows, problems = parse_rows("date,reference,amount\n", "USD", TODAY)
    assert rows == [] and problems[0].line == 1 and "payer_wiki_username" in problems[0].reason
    rows, problems = parse_rows("", "USD", TODAY)
    assert rows == [] and "empty" in problems[0].reason
    shuffled = "method,amount,currency,payer_wiki_username,reference,date,extra\n"
    rows, problems = parse_rows(
        "\ufeff" + shuffled + "card,1500,JPY,Example,T1,2025-01-01,x\n", "JPY", TODAY
    )
    assert problems == [] and rows[0].amount == 1500 and type(rows[0].amount) is int
