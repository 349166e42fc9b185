"""Money leaving operating has cover: transfers only up to the surplus beyond the reserve
and never while operating money is below zero, expenses and refunds never below zero
(unless the policy allows it), refunds never beyond their payment; a second admin for
large amounts; a form sent twice and an action confirmed twice count once. Pure rules,
the store's outflows, and random sequences of business actions (hypothesis)."""

from __future__ import annotations

import tempfile
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from membership import cover, fund, ledger, outflows
from membership.ledger import LedgerEntry, LedgerError
from membership.outflows import Refused
from membership.store import Store
from policies.eligibility import PolicyError
from policies.errors import Conflict
from policies.fees import load_fees

DAY = date(2025, 3, 1)
POLICY = load_fees()


def pay(store: Store, member: str, amount: int, reference: str = "") -> LedgerEntry:
    record = store.record_payment(
        member,
        amount=amount,
        currency="USD",
        paid_on=DAY.isoformat(),
        method="card",
        reference=reference or f"R-{member}-{amount}-{len(store.payments())}",
        recorded_by="Admin1",
    )
    [entry] = [e for e in store.ledger_entries(kind="payment") if e.payment_id == record.id]
    return entry


def entry(kind: str, amount: int, n: int, **extra: object) -> LedgerEntry:
    if kind in ("payment", "refund"):
        extra.setdefault("member", "Alice")
    if kind == "expense":
        extra.setdefault("note", "server")
    return LedgerEntry(kind, amount, "USD", DAY, id=n, **extra)  # type: ignore[arg-type]


# -- the pure rules -----------------------------------------------------------------


def test_the_reported_case_1010_with_10_of_surplus_is_refused() -> None:
    entries = [entry("payment", 10_00, 1)]
    refusal = cover.transfer_refusal(entries, 1010_00, "USD", POLICY, DAY)
    assert refusal is not None
    assert "Only 10.00 USD of surplus may move into the fund, not 1010.00 USD" in refusal
    assert cover.transfer_refusal(entries, 10_00, "USD", POLICY, DAY) is None


def test_no_transfer_while_operating_money_is_negative() -> None:
    policy = load_fees({"operating_may_go_negative": True})
    entries = [entry("payment", 10_00, 1), entry("expense", 30_00, 2)]
    assert ledger.operating_balance(entries) == -20_00
    refusal = cover.transfer_refusal(entries, 1, "USD", policy, DAY)
    assert refusal is not None and "already below zero (-20.00 USD)" in refusal


def test_the_reserve_is_kept_out_of_the_surplus() -> None:
    # 120.00 spent in the year: 10.00 a month, 6 months kept = 60.00 reserve.
    entries = [entry("payment", 200_00, 1), entry("expense", 120_00, 2)]
    assert cover.transfer_refusal(entries, 20_00, "USD", POLICY, DAY) is None
    refusal = cover.transfer_refusal(entries, 20_01, "USD", POLICY, DAY)
    assert refusal is not None and "reserve keeps 60.00 USD (6 months of 10.00 USD)" in refusal


@pytest.mark.parametrize(
    ("amount", "currency", "phrase"),
    [
        (0, "USD", "more than zero"),
        (-5, "USD", "more than zero"),
        (2**63, "USD", "more than the ledger can hold"),
        (5, "EUR", "keeps USD only"),
        (1.5, "USD", "whole minor units"),
    ],
)
def test_amounts_out_of_bounds_are_refused(amount, currency, phrase) -> None:
    entries = [entry("payment", 100_00, 1)]
    for refusal in (
        cover.transfer_refusal(entries, amount, currency, POLICY, DAY),
        cover.expense_refusal(entries, amount, currency, POLICY),
        cover.refund_refusal(entries, 1, amount, currency, POLICY),
    ):
        assert refusal is not None and phrase in refusal


def test_an_expense_may_not_overdraw_unless_the_policy_says_so() -> None:
    entries = [entry("payment", 20_00, 1)]
    refusal = cover.expense_refusal(entries, 20_01, "USD", POLICY)
    assert (
        refusal is not None and "below zero" in refusal and "operating_may_go_negative" in refusal
    )
    assert cover.expense_refusal(entries, 20_00, "USD", POLICY) is None
    allowing = load_fees({"operating_may_go_negative": True})
    assert cover.expense_refusal(entries, 20_01, "USD", allowing) is None


def test_a_refund_only_up_to_what_is_left_of_its_payment() -> None:
    entries = [
        entry("payment", 20_00, 1),
        entry("payment", 50_00, 2, member="Bob"),
        entry("refund", 15_00, 3, refund_of=1),
    ]
    refusal = cover.refund_refusal(entries, 1, 5_01, "USD", POLICY)
    assert refusal is not None and "Only 5.00 USD of payment 1 (Alice) is left" in refusal
    assert cover.refund_refusal(entries, 1, 5_00, "USD", POLICY) is None
    done = [*entries, entry("refund", 5_00, 4, refund_of=1)]
    assert "already refunded in full" in (cover.refund_refusal(done, 1, 1, "USD", POLICY) or "")
    assert "no payment 3" in (cover.refund_refusal(entries, 3, 1, "USD", POLICY) or "")


def test_money_in_another_currency_is_not_spent_here() -> None:
    foreign = LedgerEntry("payment", 500_00, "EUR", DAY, member="Bob", id=1)
    entries = [foreign, entry("payment", 10_00, 2)]
    assert cover.transfer_refusal(entries, 10_00, "USD", POLICY, DAY) is None
    refusal = cover.transfer_refusal(entries, 10_01, "USD", POLICY, DAY)
    assert refusal is not None and refusal.startswith("Only 10.00 USD of surplus")
    assert "below zero" in (cover.expense_refusal(entries, 10_01, "USD", POLICY) or "")
    assert "in EUR; refund it by hand" in (cover.refund_refusal(entries, 1, 5, "USD", POLICY) or "")


def test_the_second_admin_threshold() -> None:
    assert POLICY.second_admin_above == 100_00
    assert not cover.needs_second_admin(100_00, POLICY)
    assert cover.needs_second_admin(100_01, POLICY)
    assert cover.needs_second_admin(1, load_fees({"second_admin_above": 0}))


@pytest.mark.parametrize(
    ("key", "value"), [("second_admin_above", -1), ("operating_may_go_negative", "no")]
)
def test_the_new_policy_keys_are_checked(key, value) -> None:
    with pytest.raises(PolicyError, match=key):
        load_fees({key: value})


# -- the store: outflows, second admins, races ---------------------------------------


def test_transfer_surplus_refuses_the_reported_case(store: Store) -> None:
    pay(store, "Alice", 10_00)
    with pytest.raises(LedgerError, match="Only 10.00 USD of surplus"):
        fund.transfer_surplus(store, 1010_00, POLICY, "Admin1", DAY)
    assert ledger.operating_balance(store.ledger_entries()) == 10_00
    assert store.ledger_entries(kind="transfer") == []


def test_small_actions_are_done_at_once_and_audited(store: Store) -> None:
    paid = pay(store, "Alice", 90_00)
    out = outflows.propose(store, "form-1", "expense", 30_00, "Admin1", POLICY, DAY, note="host")
    assert out.done and out.action.status == "done" and "expense of 30.00 USD" in out.message
    out = outflows.propose(
        store, "form-2", "refund", 10_00, "Admin1", POLICY, DAY, payment_id=paid.id
    )
    assert out.done and store.ledger_entries(kind="refund")[0].refund_of == paid.id
    # 30.00 spent in the year: 2.50 a month, 15.00 reserve; 50.00 - 15.00 may move.
    out = outflows.propose(store, "form-3", "transfer", 35_00, "Admin1", POLICY, DAY)
    assert out.done and ledger.fund_balance(store.ledger_entries()) == 35_00
    actions = [a.action for a in store.audit_log() if a.action.startswith("fund-")]
    assert actions == [
        "fund-expense-done",
        "fund-refund-done",
        "fund-transfer",
        "fund-transfer-done",
    ]


def test_a_form_sent_twice_is_recorded_once(store: Store) -> None:
    pay(store, "Alice", 90_00)
    outflows.propose(store, "same-form", "expense", 30_00, "Admin1", POLICY, DAY, note="host")
    with pytest.raises(Refused, match="already sent: the expense of 30.00 USD") as caught:
        outflows.propose(store, "same-form", "expense", 30_00, "Admin1", POLICY, DAY, note="host")
    assert isinstance(caught.value, Conflict)
    assert len(store.ledger_entries(kind="expense")) == 1


def test_a_refused_form_leaves_nothing_behind(store: Store) -> None:
    pay(store, "Alice", 10_00)
    with pytest.raises(Refused, match="Only 10.00 USD of surplus"):
        outflows.propose(store, "f", "transfer", 1010_00, "Admin1", POLICY, DAY)
    assert store.fund_actions() == []
    # The same form, corrected, may be sent again.
    assert outflows.propose(store, "f", "transfer", 10_00, "Admin1", POLICY, DAY).done


def test_large_amounts_wait_for_a_second_admin(store: Store) -> None:
    paid = pay(store, "Alice", 500_00)
    out = outflows.propose(
        store, "big", "refund", 200_00, "Admin1", POLICY, DAY, payment_id=paid.id
    )
    assert not out.done and "waits for a second admin" in out.message
    assert store.ledger_entries(kind="refund") == []
    with pytest.raises(Refused, match="a second admin must confirm"):
        outflows.confirm(store, out.action.id, "Admin1", POLICY, DAY)
    with pytest.raises(Refused, match="refund to themselves"):
        outflows.confirm(store, out.action.id, "Alice", POLICY, DAY)
    done = outflows.confirm(store, out.action.id, "Admin2", POLICY, DAY)
    assert done.done and "proposed by Admin1, confirmed by Admin2" in done.message
    assert ledger.refunded(store.ledger_entries(), paid.id or 0) == 200_00
    with pytest.raises(Refused, match="Already done: .*confirmed by Admin2") as caught:
        outflows.confirm(store, out.action.id, "Admin3", POLICY, DAY)
    assert isinstance(caught.value, Conflict)
    with pytest.raises(Refused, match="Already done"):
        outflows.withdraw(store, out.action.id, "Admin3", POLICY)


def test_a_confirmation_checks_the_ledger_as_it_is_then(store: Store) -> None:
    pay(store, "Alice", 300_00)
    first = outflows.propose(store, "t1", "transfer", 200_00, "Admin1", POLICY, DAY)
    second = outflows.propose(store, "t2", "transfer", 200_00, "Admin1", POLICY, DAY)
    assert outflows.confirm(store, first.action.id, "Admin2", POLICY, DAY).done
    with pytest.raises(Refused, match="Not confirmed: Only 100.00 USD of surplus"):
        outflows.confirm(store, second.action.id, "Admin2", POLICY, DAY)
    assert store.fund_action(second.action.id).status == "proposed"  # type: ignore[union-attr]
    withdrawn = outflows.withdraw(store, second.action.id, "Admin1", POLICY)
    assert withdrawn.action.status == "withdrawn"
    with pytest.raises(Refused, match="withdrawn by Admin1"):
        outflows.confirm(store, second.action.id, "Admin2", POLICY, DAY)


def test_no_admin_refunds_their_own_payment(store: Store) -> None:
    paid = pay(store, "Admin1", 20_00)
    with pytest.raises(Refused, match="their own payment"):
        outflows.propose(store, "f", "refund", 5_00, "Admin1", POLICY, DAY, payment_id=paid.id)
    with pytest.raises(Refused, match="Choose a payment"):
        outflows.propose(store, "g", "refund", 5_00, "Admin2", POLICY, DAY, payment_id=999)


def test_an_expense_says_what_it_paid_for(store: Store) -> None:
    pay(store, "Alice", 20_00)
    with pytest.raises(Refused, match="Say what the expense paid for"):
        outflows.propose(store, "f", "expense", 5_00, "Admin1", POLICY, DAY, note="  ")


def test_a_refund_note_stays_with_the_admins(store: Store) -> None:
    paid = pay(store, "Alice", 20_00)
    outflows.propose(
        store, "f", "refund", 5_00, "Admin1", POLICY, DAY, payment_id=paid.id, note="PRIVATE"
    )
    assert not any("PRIVATE" in repr(e) for e in store.ledger_entries())
    assert store.fund_actions()[0].note == "PRIVATE"


# -- random sequences of business actions ----------------------------------------------

actions = st.lists(
    st.tuples(
        st.sampled_from(["income", "expense", "refund", "transfer", "confirm", "withdraw"]),
        st.integers(min_value=-5, max_value=400_00),
        st.integers(0, 30),
        st.sampled_from(["Admin1", "Admin2"]),
        st.booleans(),  # send the same form again
    ),
    max_size=30,
)


@settings(max_examples=40, deadline=None)
@given(actions, st.booleans())
def test_no_sequence_overdraws_through_a_transfer_or_refunds_more_than_paid(
    steps: list[tuple[str, int, int, str, bool]], overdraw: bool
) -> None:
    policy = load_fees({"operating_may_go_negative": overdraw})
    with tempfile.TemporaryDirectory() as folder:
        store = Store(Path(folder) / "ats.sqlite")
        try:
            day = DAY
            for n, (kind, amount, pick, admin, again) in enumerate(steps):
                day += timedelta(days=pick % 3)
                form = f"form-{n - 1 if again and n else n}"
                before = store.ledger_entries()
                try:
                    if kind == "income":
                        pay(store, ["Alice", "Bob"][pick % 2], max(1, amount))
                    elif kind in ("confirm", "withdraw"):
                        waiting = store.fund_actions(status="proposed")
                        if waiting:
                            chosen = waiting[pick % len(waiting)].id
                            if kind == "confirm":
                                outflows.confirm(store, chosen, admin, policy, day)
                            else:
                                outflows.withdraw(store, chosen, admin, policy)
                    else:
                        payments = store.ledger_entries(kind="payment")
                        target = payments[pick % len(payments)].id if payments else None
                        outflows.propose(
                            store,
                            form,
                            kind,
                            amount,
                            admin,
                            policy,
                            day,
                            note="server",
                            payment_id=target,
                        )
                except Refused:
                    assert store.ledger_entries() == before  # a refusal changes nothing
                    continue
                entries = store.ledger_entries()
                new = entries[len(before) :]
                if any(e.kind == "transfer" for e in new):
                    assert ledger.operating_balance(entries) >= 0
                if not overdraw and any(e.kind in ("expense", "refund") for e in new):
                    assert ledger.operating_balance(entries) >= 0
                for payment in (e for e in entries if e.kind == "payment"):
                    assert 0 <= ledger.refunded(entries, payment.id or 0) <= payment.amount
                # Each ledger entry an admin made belongs to exactly one done action.
                done = [a for a in store.fund_actions(limit=1000) if a.status == "done"]
                made = [e for e in entries if e.kind in ("expense", "refund")]
                made += [e for e in entries if e.kind == "transfer"]
                assert sorted(a.ledger_id for a in done) == sorted(e.id for e in made)
                assert all(
                    a.amount <= policy.second_admin_above
                    for a in done
                    if a.decided_by == a.proposed_by
                )
        finally:
            store.close()
