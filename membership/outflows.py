"""The admins' refunds, expenses and transfers into the waiver fund, with their guards.

`propose` records one submitted form (`fund_actions`, unique by the form's id, so a form
sent twice is recorded once) and, in the same write transaction, checks it against the
ledger with `membership.cover`; an amount above the policy's `second_admin_above` waits
for a second admin, anything else is carried out at once. `confirm` carries out a
proposed action for a second admin (never the proposer, never the member refunded),
checking the ledger again as it is then; `withdraw` drops one. Every refusal and every
losing side of a race (the form already sent, the action already confirmed or
withdrawn by another admin) is a `Refused` with one sentence for the admin. Each step
is audited with ids and amounts. `position` is what the admins' page shows of the money.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from membership import cover, fund, ledger
from membership.ledger import LedgerEntry, LedgerError
from membership.store import FundAction, Store
from policies.fees import FeePolicy
from policies.money import format_minor

KINDS = ("refund", "expense", "transfer")


class Refused(ValueError):
    """An outflow that may not happen; `conflict` when another admin or form came first."""

    def __init__(self, message: str, *, conflict: bool = False) -> None:
        super().__init__(message)
        self.conflict = conflict


@dataclass(frozen=True)
class Outcome:
    action: FundAction
    done: bool  # False: waiting for a second admin
    message: str


@dataclass(frozen=True)
class Position:
    """The money as the admins' page shows it, in minor units."""

    operating: int
    fund: int
    monthly_cost: int
    reserve: int
    surplus: int


def position(entries: Sequence[LedgerEntry], policy: FeePolicy, today: date) -> Position:
    mine = [e for e in entries if e.currency == policy.currency]
    totals = ledger.accounts(mine)
    cost = ledger.monthly_cost(mine, today)
    return Position(
        operating=totals["operating"],
        fund=totals["fund"],
        monthly_cost=cost,
        reserve=cost * policy.reserve_months,
        surplus=ledger.surplus(mine, cost, policy.reserve_months),
    )


def refundable_payments(
    entries: Sequence[LedgerEntry], policy: FeePolicy
) -> list[tuple[LedgerEntry, int]]:
    """Payments in the policy's currency with something left to give back, newest first."""
    return [
        (e, left)
        for e in reversed(entries)
        if e.kind == "payment"
        and e.currency == policy.currency
        and e.id is not None
        and (left := ledger.refundable(entries, e.id)) > 0
    ]


def propose(
    store: Store,
    form_id: str,
    kind: str,
    amount: int,
    admin: str,
    policy: FeePolicy,
    today: date,
    *,
    on: date | None = None,
    note: str = "",
    payment_id: int | None = None,
) -> Outcome:
    """An admin's refund, expense or transfer: carried out, or waiting for a second admin."""
    if kind not in KINDS:
        raise Refused(f"Unknown action {kind!r}; one of {', '.join(KINDS)}.")
    refusal = cover.amount_refusal(amount, policy.currency, policy, kind)
    if refusal:
        raise Refused(refusal)
    note = " ".join(note.split())
    if kind == "expense" and not note:
        raise Refused("Say what the expense paid for (it is shown in the report).")
    with store.transaction():
        member = ""
        if kind == "refund":
            payment = _payment(store, payment_id)
            member = payment.member
            if member == admin:
                raise Refused("No admin refunds their own payment; ask another admin.")
        action, created = store.add_fund_action(
            form_id,
            kind=kind,
            amount=amount,
            currency=policy.currency,
            on_date=(on or today).isoformat(),
            proposed_by=admin,
            note=note,
            member=member,
            refund_of=payment_id if kind == "refund" else None,
        )
        if not created:
            raise Refused(f"This form was already sent: {describe(action, policy)}", conflict=True)
        refusal = _refusal(store, action, policy, today)
        if refusal:
            raise Refused(refusal)
        if cover.needs_second_admin(amount, policy):
            _audit(store, admin, "proposed", action)
            return Outcome(
                action,
                False,
                f"The {kind} of {_money(amount, policy)} is more than "
                f"{_money(policy.second_admin_above, policy)}: it waits for a second admin's "
                "confirmation.",
            )
        return _carry_out(store, action, admin, policy, today)


def confirm(store: Store, action_id: int, admin: str, policy: FeePolicy, today: date) -> Outcome:
    """A second admin carries out a proposed action, if the ledger still allows it."""
    with store.transaction():
        action = _open_action(store, action_id, policy)
        if admin == action.proposed_by:
            raise Refused(f"You proposed this {action.kind}; a second admin must confirm it.")
        if action.kind == "refund" and admin == action.member:
            raise Refused("No admin confirms a refund to themselves; ask another admin.")
        refusal = _refusal(store, action, policy, today)
        if refusal:
            raise Refused(f"Not confirmed: {refusal}")
        return _carry_out(store, action, admin, policy, today)


def withdraw(store: Store, action_id: int, admin: str, policy: FeePolicy) -> Outcome:
    """Drop a proposed action (the proposer taking it back, or another admin declining)."""
    with store.transaction():
        action = _open_action(store, action_id, policy)
        store.close_fund_action(action.id, admin, status="withdrawn")
        _audit(store, admin, "withdrawn", action)
        closed = store.fund_action(action.id)
        assert closed is not None
        return Outcome(closed, False, f"Withdrawn: {describe(action, policy)}")


def describe(action: FundAction, policy: FeePolicy) -> str:
    """One line about an action and where it stands, for admins."""
    what = {
        "refund": f"refund of {_money(action.amount, policy)} to {action.member} "
        f"(payment {action.refund_of})",
        "expense": f"expense of {_money(action.amount, policy)} ({action.note})",
        "transfer": f"transfer of {_money(action.amount, policy)} into the waiver fund",
    }[action.kind]
    if action.status == "done":
        by = (
            f"recorded by {action.decided_by}"
            if action.decided_by == action.proposed_by
            else f"proposed by {action.proposed_by}, confirmed by {action.decided_by}"
        )
        return f"the {what}, {by} at {action.decided_at}."
    if action.status == "withdrawn":
        return f"the {what}, proposed by {action.proposed_by}, withdrawn by {action.decided_by}."
    return f"the {what}, proposed by {action.proposed_by}, waiting for a second admin."


def _payment(store: Store, payment_id: int | None) -> LedgerEntry:
    found = store.ledger_entries(entry_id=payment_id) if payment_id is not None else []
    if not found or found[0].kind != "payment":
        raise Refused("Choose a payment to refund.")
    return found[0]


def _open_action(store: Store, action_id: int, policy: FeePolicy) -> FundAction:
    action = store.fund_action(action_id)
    if action is None:
        raise Refused(f"There is no action {action_id}.")
    if action.status == "done":
        raise Refused(f"Already done: {describe(action, policy)}", conflict=True)
    if action.status == "withdrawn":
        raise Refused(f"Nothing to do: {describe(action, policy)}", conflict=True)
    return action


def _refusal(store: Store, action: FundAction, policy: FeePolicy, today: date) -> str | None:
    entries = store.ledger_entries()
    if action.kind == "transfer":
        return cover.transfer_refusal(entries, action.amount, action.currency, policy, today)
    if action.kind == "expense":
        return cover.expense_refusal(entries, action.amount, action.currency, policy)
    assert action.refund_of is not None
    return cover.refund_refusal(entries, action.refund_of, action.amount, action.currency, policy)


def _carry_out(
    store: Store, action: FundAction, admin: str, policy: FeePolicy, today: date
) -> Outcome:
    """Write the ledger entry for `action` (inside the caller's transaction)."""
    extra = ""
    try:
        if action.kind == "transfer":
            paid = fund.transfer_surplus(
                store, action.amount, policy, admin, today, note=action.note
            )
            entry = store.ledger_entries(kind="transfer")[-1]
            if paid:
                extra = f" It paid {len(paid)} queued waiver(s)."
        else:
            entry = store.add_ledger_entry(
                LedgerEntry(
                    action.kind,
                    action.amount,
                    action.currency,
                    date.fromisoformat(action.on_date) if action.kind == "expense" else today,
                    member=action.member,
                    # A refund's note is about a member: it stays with the admins' action.
                    note=action.note if action.kind == "expense" else "",
                    refund_of=action.refund_of,
                    recorded_by=action.proposed_by,
                )
            )
    except LedgerError as error:
        raise Refused(str(error)) from None
    if not store.close_fund_action(action.id, admin, status="done", ledger_id=entry.id):
        raise Refused("Another admin decided this action first.", conflict=True)
    _audit(store, admin, "done", action, ledger_id=entry.id)
    done = store.fund_action(action.id)
    assert done is not None
    return Outcome(done, True, f"Done: {describe(done, policy)}{extra}")


def _audit(store: Store, admin: str, step: str, action: FundAction, **more: Any) -> None:
    subject: dict[str, Any] = {"subject": action.member} if action.member else {}
    store.audit(
        admin,
        f"fund-{action.kind}-{step}",
        action_id=action.id,
        amount=action.amount,
        currency=action.currency,
        **subject,
        **more,
    )


def _money(amount: int, policy: FeePolicy) -> str:
    return f"{format_minor(amount, policy.currency)} {policy.currency}"
