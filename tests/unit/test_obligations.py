"""The fee obligation of each member-year, counted once, on a real store.

Sequences of business actions (hypothesis): pay by the admin form's path and by CSV
import (duplicate references in other case and spacing included), ask for a waiver
again and again, grant, confirm, top up the fund (which pays the queue), refund, renew
with members lapsing — and after every step the rules of membership/obligations.py
hold. Then one test per case the testers saw at the store and CLI level, and the
migration of a store that already holds duplicates.
"""

from __future__ import annotations

import contextlib
import sqlite3
import tempfile
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from membership import fund, ledger, obligations, renewal, waivers
from membership.ledger import LedgerEntry, LedgerError
from membership.payments_csv import import_payments
from membership.records import DuplicatePaymentError, OpenWaiverError
from membership.store import Store
from policies.fees import load_fees
from tests import forked_cli
from tests.builders import add_request

POLICY = load_fees()
FEE = POLICY.annual_fee
TODAY = date.today()  # waivers are dated by the store's clock, so the tests use it too
MEMBERS = ("Alice", "Bob", "Carol")
ADMINS = ("Admin One", "Admin Two")
HEADER = "date,reference,payer_wiki_username,amount,currency,method\n"


def add_members(store: Store) -> None:
    for n, name in enumerate(MEMBERS):
        add_request(store, name, key=f"k{n}", state="done")
        store.record_account(name.lower(), "person", name, 10000 + n)


@pytest.fixture
def store(store: Store) -> Store:
    """The shared store with three members."""
    add_members(store)
    return store


def pay(store: Store, member: str, reference: str, *, amount: int = FEE, **more: object):  # noqa: ANN201
    values = {
        "amount": amount,
        "currency": "USD",
        "paid_on": TODAY,
        "method": "card",
        "reference": reference,
        "recorded_by": "Admin One",
        "today": TODAY,
        **more,
    }
    return obligations.record_payment(store, POLICY, member, **values)  # type: ignore[arg-type]


def act(store: Store, waiver_id: int, admin: str, action: str = "grant") -> fund.Settled:
    record = store.waiver(waiver_id)
    assert record is not None
    step = waivers.decide(record, admin, action, needs_second=POLICY.waiver_needs_second_admin)
    return fund.settle_waiver(store, record, step, admin, POLICY, TODAY)


def top_up(store: Store, amount: int) -> list[int]:
    return fund.transfer_surplus(store, amount, POLICY, "Admin One", TODAY)


def donate_and_top_up(store: Store, amount: int) -> list[int]:
    """A donation to operating money, then the same amount moved into the fund (a
    transfer moves only what operating money has beyond its reserve)."""
    store.record_payment(
        "Fund Donor",
        amount=amount,
        currency="USD",
        paid_on=(TODAY - timedelta(days=800)).isoformat(),
        method="donation",
        reference=f"DONATION-{len(store.payments())}",
        recorded_by="Admin One",
    )
    return top_up(store, amount)


def fund_paid(store: Store, member: str) -> list[LedgerEntry]:
    return [e for e in store.ledger_entries(kind="waiver") if e.member == member]


# -- sequences of business actions ---------------------------------------------------

references = st.sampled_from(["TX-1", "tx-1 ", " TX-1", "TX-2", "Tx-2", "TX-3"])


class FeeYears(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.folder = tempfile.TemporaryDirectory()
        self.store = Store(Path(self.folder.name) / "ats.sqlite")
        add_members(self.store)
        # Income to move into the fund, recorded under a method no member uses.
        self.store.record_payment(
            "Alice",
            amount=POLICY.max_payment,
            currency="USD",
            paid_on=(TODAY - timedelta(days=800)).isoformat(),
            method="donation",
            reference="GIFT",
            recorded_by="Admin One",
        )

        top_up(self.store, 2 * FEE)

    def teardown(self) -> None:
        self.store.close()
        self.folder.cleanup()

    @rule(
        member=st.sampled_from(MEMBERS),
        reference=references,
        days_ago=st.sampled_from([0, 200, 400]),
        amount=st.sampled_from([FEE, FEE // 2, POLICY.max_payment + 1, 2**63]),
    )
    def pay_by_form(self, member: str, reference: str, days_ago: int, amount: int) -> None:
        before = len(self.store.payments())
        try:
            pay(self.store, member, reference, amount=amount, paid_on=TODAY - timedelta(days_ago))
        except (DuplicatePaymentError, obligations.ObligationError):
            assert len(self.store.payments()) == before
            return
        assert amount <= POLICY.max_payment

    @rule(
        rows=st.lists(
            st.tuples(st.sampled_from(MEMBERS), references, st.sampled_from(["20.00", "1e3"])),
            min_size=1,
            max_size=3,
        )
    )
    def pay_by_csv(self, rows: list[tuple[str, str, str]]) -> None:
        text = HEADER + "".join(
            f"{TODAY.isoformat()},{reference},{member},{amount},USD,card\n"
            for member, reference, amount in rows
        )
        report = import_payments(self.store, text, "Admin Two", policy=POLICY, today=TODAY)
        assert len(report.imported) + len(report.already) + len(report.problems) == len(rows)

    @rule(member=st.sampled_from(MEMBERS), times=st.integers(1, 3))
    def ask_for_waiver(self, member: str, times: int) -> None:
        for _ in range(times):
            with contextlib.suppress(obligations.ObligationError):
                obligations.request_waiver(self.store, POLICY, member, "cannot pay", TODAY)
        assert len(self.store.waivers(member, status="requested")) <= 1

    @rule(member=st.sampled_from(MEMBERS), admin=st.sampled_from(ADMINS))
    def grant_or_confirm(self, member: str, admin: str) -> None:
        for waiver in self.store.waivers(member, status="requested"):
            with contextlib.suppress(waivers.WaiverRuleError):
                act(self.store, waiver.id, admin)

    @rule(member=st.sampled_from(MEMBERS))
    def grant_and_confirm(self, member: str) -> None:
        for admin in ADMINS:
            self.grant_or_confirm(member, admin)

    @rule(member=st.sampled_from(MEMBERS))
    def refuse(self, member: str) -> None:
        for waiver in self.store.waivers(member, status="requested"):
            act(self.store, waiver.id, "Admin Two", "refuse")

    @rule(amount=st.sampled_from([FEE // 2, FEE, 3 * FEE]))
    def top_up_the_fund(self, amount: int) -> None:
        with contextlib.suppress(LedgerError):
            top_up(self.store, amount)

    @rule(pick=st.integers(0, 20), part=st.sampled_from([1, 2]))
    def refund(self, pick: int, part: int) -> None:
        payments = [p for p in self.store.ledger_entries(kind="payment") if p.reference != "GIFT"]
        if not payments:
            return
        paid = payments[pick % len(payments)]
        entry = LedgerEntry(
            "refund", max(1, paid.amount // part), "USD", TODAY, member=paid.member,
            refund_of=paid.id,
        )  # fmt: skip
        with contextlib.suppress(LedgerError):
            self.store.add_ledger_entry(entry)
        obligations.withdraw_if_settled(self.store, POLICY, paid.member, "Admin One", TODAY)

    @rule()
    def renew(self) -> None:
        the_plan = renewal.plan(self.store, POLICY, TODAY)
        renewal.apply_accounts(self.store, POLICY, the_plan)
        for name in MEMBERS:
            now = renewal.member_standing(self.store, POLICY, name, TODAY)
            if now.standing in ("paid", "waived"):
                assert not now.suspended or name in [m.name for m in the_plan.restore]

    @invariant()
    def fee_counted_once(self) -> None:
        assert obligations.violations(self.store, POLICY, TODAY) == []
        entries = self.store.ledger_entries()
        assert ledger.fund_balance(entries) >= 0  # the default policy queues instead
        for entry in entries:
            if entry.kind == "waiver":
                paid = self.store.waiver(entry.waiver_id or 0)
                assert paid is not None and paid.status == "granted"


FeeYears.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestFeeYears = FeeYears.TestCase


# -- what was seen: the fund paying twice (1) ------------------------------------------


def test_a_double_submitted_waiver_form_makes_one_request(store: Store) -> None:
    obligations.request_waiver(store, POLICY, "Alice", "cannot pay", TODAY)
    with pytest.raises(obligations.ObligationError, match="already asked"):
        obligations.request_waiver(store, POLICY, "Alice", "cannot pay", TODAY)
    with pytest.raises(OpenWaiverError):  # the store's index, for any writer
        store.request_waiver("Alice", "cannot pay")
    assert len(store.waivers("Alice")) == 1


def test_a_granted_member_cannot_ask_again_the_same_year(store: Store) -> None:
    donate_and_top_up(store, 10 * FEE)
    waiver = obligations.request_waiver(store, POLICY, "Alice", "cannot pay", TODAY)
    act(store, waiver.id, "Admin One")
    assert act(store, waiver.id, "Admin Two").status == "granted"
    with pytest.raises(obligations.ObligationError, match="covers you until"):
        obligations.request_waiver(store, POLICY, "Alice", "again", TODAY)
    assert [e.amount for e in fund_paid(store, "Alice")] == [FEE]


def test_a_member_who_paid_is_not_granted_a_waiver(store: Store) -> None:
    donate_and_top_up(store, 10 * FEE)
    waiver = obligations.request_waiver(store, POLICY, "Bob", "cannot pay", TODAY)
    act(store, waiver.id, "Admin One")
    # Bob paid between the first admin's grant and the second's confirmation.
    store.record_payment(
        "Bob", amount=FEE, currency="USD", paid_on=TODAY.isoformat(), method="bank",
        reference="B-1", recorded_by="Admin One",
    )  # fmt: skip
    settled = act(store, waiver.id, "Admin Two")
    assert not settled.ok and "already paid the fee" in settled.admin_message
    assert store.waiver(waiver.id).status == "withdrawn"
    assert fund_paid(store, "Bob") == []
    with pytest.raises(obligations.ObligationError, match="is paid"):
        obligations.request_waiver(store, POLICY, "Bob", "again", TODAY)


def test_a_queued_waiver_is_withdrawn_when_the_member_pays(store: Store) -> None:
    waiver = obligations.request_waiver(store, POLICY, "Carol", "cannot pay", TODAY)
    act(store, waiver.id, "Admin One")
    assert act(store, waiver.id, "Admin Two").status == "queued"  # the fund is empty
    pay(store, "Carol", "C-1")
    assert store.waiver(waiver.id).status == "withdrawn"
    assert store.queued_waivers() == []
    assert "withdrawn because your fee for this year is settled" in (
        fund.requester_message(store, "Carol", POLICY) or ""
    )
    assert donate_and_top_up(store, 10 * FEE) == []  # the top-up pays nothing out
    assert fund_paid(store, "Carol") == []


def test_the_queue_withdraws_a_waiver_whose_year_was_settled_by_another_path(
    store: Store,
) -> None:
    waiver = obligations.request_waiver(store, POLICY, "Carol", "cannot pay", TODAY)
    act(store, waiver.id, "Admin One")
    act(store, waiver.id, "Admin Two")
    # A writer that skips obligations (an older tool): the fund's queue still checks.
    store.record_payment(
        "Carol", amount=FEE, currency="USD", paid_on=TODAY.isoformat(), method="bank",
        reference="C-2", recorded_by="Admin One",
    )  # fmt: skip
    assert donate_and_top_up(store, 10 * FEE) == []
    assert store.waiver(waiver.id).status == "withdrawn" and fund_paid(store, "Carol") == []


def test_the_loser_of_two_admins_confirming_is_told_who_won(store: Store) -> None:
    donate_and_top_up(store, 10 * FEE)
    waiver = obligations.request_waiver(store, POLICY, "Alice", "cannot pay", TODAY)
    act(store, waiver.id, "Admin One")
    seen = store.waiver(waiver.id)
    assert seen is not None
    step = waivers.decide(seen, "Admin Two", "grant", needs_second=True)
    fund.settle_waiver(store, seen, step, "Admin Two", POLICY, TODAY)
    third = waivers.decide(seen, "Admin Three", "grant", needs_second=True)  # a stale page
    with pytest.raises(waivers.WaiverRuleError, match="already granted: confirmed by Admin Two"):
        fund.settle_waiver(store, seen, third, "Admin Three", POLICY, TODAY)
    assert len(fund_paid(store, "Alice")) == 1


# -- one payment recorded many times (2) ----------------------------------------------


def test_a_reference_is_one_payment_whatever_its_case_and_spaces(store: Store) -> None:
    first = pay(store, "Alice", "TXN-9")
    for again in ("TXN-9", "txn-9", "  Txn-9  "):
        with pytest.raises(DuplicatePaymentError) as refused:
            pay(store, "Alice", again)
        assert refused.value.existing.id == first.id
    with pytest.raises(DuplicatePaymentError):  # the index, for a writer skipping the check
        store.record_payment(
            "Bob", amount=FEE, currency="USD", paid_on=TODAY.isoformat(), method=" CARD",
            reference="txn-9", recorded_by="Admin Two",
        )  # fmt: skip
    pay(store, "Alice", "TXN-9", method="bank transfer")  # another method, another payment
    assert len(store.payments()) == 2


def test_the_csv_skips_what_the_form_recorded_and_the_reverse(store: Store) -> None:
    pay(store, "Alice", "TX-1")
    text = HEADER + f"{TODAY},tx-1 ,Alice,20.00,USD,Card\n{TODAY},TX-2,Bob,20.00,USD,card\n"
    report = import_payments(store, text, "Admin Two", policy=POLICY, today=TODAY)
    assert [r.reference for r in report.already] == ["tx-1"]
    assert [r.reference for r in report.imported] == ["TX-2"]
    with pytest.raises(DuplicatePaymentError, match="payment #"):
        pay(store, "Bob", "tx-2")
    assert len(store.payments()) == 2


# -- amounts and currencies (3) ------------------------------------------------------


def test_money_out_of_bounds_is_refused(store: Store) -> None:
    for amount, currency, message in (
        (2500, "JPY", "kept in USD"),
        (10**17, "USD", "largest payment"),
        (2**63, "USD", "largest payment"),
        (0, "USD", "more than zero"),
    ):
        with pytest.raises(obligations.ObligationError, match=message):
            pay(store, "Alice", f"R-{amount}", amount=amount, currency=currency)
    assert store.payments() == []
    # The ledger's first entry is in the policy's currency, so the fund can be fed.
    pay(store, "Alice", "R-1", amount=POLICY.max_payment)
    donate_and_top_up(store, FEE)
    assert ledger.fund_balance(store.ledger_entries()) == FEE


def test_an_amount_the_store_cannot_hold_is_a_malformed_row(store: Store) -> None:
    text = (
        HEADER
        + f"{TODAY},BIG,Alice,{2**63},USD,card\n"
        + f"{TODAY},HUGE,Alice,{10**15},USD,card\n"
        + f"{TODAY},EUR-1,Alice,20.00,EUR,card\n"
        + f"{TODAY},OK-1,Bob,20.00,USD,card\n"
    )
    report = import_payments(store, text, "Admin Two", policy=POLICY, today=TODAY)
    assert [r.reference for r in report.imported] == ["OK-1"]
    assert [p.line for p in report.problems] == [2, 3, 4]
    assert "too large" in report.problems[0].reason
    assert "largest payment" in report.problems[1].reason
    assert [p.username for p in store.payments()] == ["Bob"]


def test_the_cli_import_reports_a_huge_amount_and_imports_the_rest(tmp_path: Path) -> None:
    config = tmp_path / "ats.toml"
    config.write_text(
        '[wiki]\napi = "http://127.0.0.1:9/w/api.php"\nrequest_page = "Toolserver/Requests"\n'
        '[bot]\nusername = "Bot"\n[store]\npath = "ats.sqlite"\n[policy]\nadmins = ["Admin One"]\n',
        encoding="utf-8",
    )
    seeded = Store(tmp_path / "ats.sqlite")
    add_members(seeded)
    seeded.close()
    csv = tmp_path / "export.csv"
    csv.write_text(
        HEADER + f"{TODAY},BIG,Alice,{2**63},USD,card\n{TODAY},OK-1,Bob,20.00,USD,card\n",
        encoding="utf-8",
    )
    command = ["--config", str(config), "payments", "import"]
    done = forked_cli.run([*command, str(csv), "--by", "Admin One"])
    assert "Traceback" not in done.stderr, done.stderr
    assert "1 imported" in done.stdout + done.stderr
    assert "line 2" in done.stdout + done.stderr
    reopened = Store(tmp_path / "ats.sqlite")
    assert [p.reference for p in reopened.payments()] == ["OK-1"]
    reopened.close()


# -- races with renewal (5) ------------------------------------------------------------


def test_a_payment_recorded_mid_run_means_no_suspension(store: Store) -> None:
    store.record_payment(
        "Alice", amount=FEE, currency="USD",
        paid_on=(TODAY - timedelta(days=365 + POLICY.grace_days + 5)).isoformat(),
        method="bank", reference="OLD", recorded_by="Admin One",
    )  # fmt: skip
    the_plan = renewal.plan(store, POLICY, TODAY)
    assert [m.name for m in the_plan.suspend] == ["Alice"]
    pay(store, "Alice", "NEW")  # while the run works on the wiki
    changes = renewal.apply_accounts(store, POLICY, the_plan)
    assert changes.suspended == [] and changes.still_covered == ["Alice"]
    assert store.open_suspension("Alice") is None and store.member_jobs("Alice") == []


def test_a_waiver_confirmed_mid_run_means_no_suspension(store: Store) -> None:
    store.record_payment(
        "Bob", amount=FEE, currency="USD",
        paid_on=(TODAY - timedelta(days=365 + POLICY.grace_days + 5)).isoformat(),
        method="bank", reference="OLD", recorded_by="Admin One",
    )  # fmt: skip
    donate_and_top_up(store, 5 * FEE)
    waiver = obligations.request_waiver(store, POLICY, "Bob", "cannot pay", TODAY)
    act(store, waiver.id, "Admin One")
    the_plan = renewal.plan(store, POLICY, TODAY)
    assert [m.name for m in the_plan.suspend] == ["Bob"]
    assert act(store, waiver.id, "Admin Two").status == "granted"
    assert renewal.apply_accounts(store, POLICY, the_plan).still_covered == ["Bob"]
    assert store.open_suspension("Bob") is None


# -- a store that already holds duplicates ---------------------------------------------


def test_the_migration_keeps_the_earliest_and_reports_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "ats.sqlite"
    old = Store(path)
    donate_and_top_up(old, 10 * FEE)
    # Back to the store before 0014: no keys, no unique indexes.
    old.db.executescript(
        "DROP INDEX payments_reference; DROP INDEX waivers_open;"
        "DELETE FROM _sqlite_migrations WHERE name = '0014_fee_obligations';"
        "ALTER TABLE payments DROP COLUMN method_key;"
        "ALTER TABLE payments DROP COLUMN reference_key;"
    )
    for reference in ("TX-1", "tx-1 ", "TX-2"):
        old.db.execute(
            "INSERT INTO payments (username, amount, currency, paid_on, method, reference, "
            "recorded_by, recorded_at) VALUES ('Alice', 2000, 'USD', '2025-01-01', 'card', ?, "
            "'Admin One', '2025-01-01T00:00:00+00:00')",
            [reference],
        )
    for _ in range(3):
        old.db.execute(
            "INSERT INTO waivers (username, reason, status, requested_at) "
            "VALUES ('Bob', 'r', 'requested', '2025-01-01T00:00:00+00:00')"
        )
    for _ in range(2):  # the fund paid Carol twice in one year
        asked = old.request_waiver("Carol", "r")
        old.decide_waiver(asked.id, "Admin One", status="granted")
        old.add_ledger_entry(
            LedgerEntry("waiver", FEE, "USD", TODAY, member="Carol", waiver_id=asked.id)
        )
    old.close()

    upgraded = Store(path)
    alices = [p.id for p in upgraded.payments("Alice")]
    assert len(alices) == 3  # no money record is lost
    assert len([e for e in upgraded.ledger_entries(kind="payment") if e.member == "Alice"]) == 3
    assert [w.status for w in upgraded.waivers("Bob")] == ["requested", "withdrawn", "withdrawn"]
    reported = [
        (e.action, dict(e.evidence)) for e in upgraded.audit_log() if e.actor == "store-migration"
    ]
    assert reported[0] == (
        "payment-duplicate-reference",
        {"amount": 2000, "duplicate_of": alices[0], "payment_id": alices[1], "subject": "Alice"},
    )
    assert [a for a, _ in reported[1:3]] == ["waiver-withdrawn-duplicate"] * 2
    assert reported[3] == (
        "waiver-paid-twice-in-a-year",
        {"earlier_waiver_id": 4, "subject": "Carol", "waiver_id": 5},
    )
    assert len(upgraded.ledger_entries(kind="waiver")) == 2  # reported, not undone
    with pytest.raises(DuplicatePaymentError):
        upgraded.record_payment(
            "Alice", amount=1, currency="USD", paid_on="2025-01-02", method="Card",
            reference="TX-2", recorded_by="x",
        )  # fmt: skip
    with pytest.raises(sqlite3.IntegrityError):
        upgraded.db.execute(
            "INSERT INTO waivers (username, reason, status, requested_at) "
            "VALUES ('Bob', 'r', 'requested', 'now')"
        )
    upgraded.close()
