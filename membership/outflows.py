"""The admins' refunds, expenses and transfers into the waiver fund, with their guards.

`propose` records one submitted form (`fund_actions`, unique by the form's id, so a form
sent twice is recorded once) and, in the same write transaction, checks it against the
ledger with `membership.cover`; an amount above the policy's `second_admin_above` waits
for a second admin, anything else is carried out at once. `confirm` carries out a
proposed action for a second admin (never the proposer, never the member refunded),
checking the ledger again as it is then; `withdraw` drops one. Every refusal is a
`Refused` with one sentence for the admin; a losing side of a race (the form already
sent, the action already confirmed or withdrawn by another admin) is `Overtaken`, a
`policies.errors.Conflict`. Each step is audited with ids and amounts. `position` is
what the admins' page shows of the money.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from membership import cover, fund, ledger
from membership.ledger import LedgerEntry, LedgerError
from membership.records import FundAction
from membership.store import Store
from policies.errors import Conflict, Refusal
from policies.fees import FeePolicy
from policies.money import format_minor
from policies.words import Words

KINDS = ("refund", "expense", "transfer")


class Refused(Refusal, ValueError):
    """An outflow that may not happen; the message says why."""


class Overtaken(Refused, Conflict):
    """Another admin, or the same form sent again, came first: nothing more to do."""


@dataclass(frozen=True)
class Outcome:
    action: FundAction
    done: bool  # False: waiting for a second admin
    message: Words


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
        raise Refused(
            Words(
                f"Unknown action {kind!r}; one of {', '.join(KINDS)}.",
                "ats-outflow-unknown-kind",
                kind=kind,
                kinds=", ".join(KINDS),
            )
        )
    refusal = cover.amount_refusal(amount, policy.currency, policy, kind)
    if refusal:
        raise Refused(refusal)
    note = " ".join(note.split())
    if kind == "expense" and not note:
        raise Refused(
            Words(
                "Say what the expense paid for (it is shown in the report).",
                "ats-outflow-expense-note",
            )
        )
    with store.transaction():
        member = ""
        if kind == "refund":
            payment = _payment(store, payment_id)
            member = payment.member
            if member == admin:
                raise Refused(
                    Words(
                        "No admin refunds their own payment; ask another admin.",
                        "ats-outflow-own-refund",
                    )
                )
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
            raise Overtaken(_about("This form was already sent", "sent", action, policy))
        refusal = _refusal(store, action, policy, today)
        if refusal:
            raise Refused(refusal)
        if cover.needs_second_admin(amount, policy):
            _audit(store, admin, "proposed", action)
            return Outcome(
                action,
                False,
                Words(
                    f"The {kind} of {_money(amount, policy)} is more than "
                    f"{_money(policy.second_admin_above, policy)}: it waits for a second "
                    "admin's confirmation.",
                    "ats-outflow-waits",
                    kind=cover.kind_words(kind),
                    amount=_money(amount, policy),
                    limit=_money(policy.second_admin_above, policy),
                ),
            )
        return _carry_out(store, action, admin, policy, today)


def confirm(store: Store, action_id: int, admin: str, policy: FeePolicy, today: date) -> Outcome:
    """A second admin carries out a proposed action, if the ledger still allows it."""
    with store.transaction():
        action = _open_action(store, action_id, policy)
        if admin == action.proposed_by:
            raise Refused(
                Words(
                    f"You proposed this {action.kind}; a second admin must confirm it.",
                    "ats-outflow-proposer",
                    kind=cover.kind_words(action.kind),
                )
            )
        if action.kind == "refund" and admin == action.member:
            raise Refused(
                Words(
                    "No admin confirms a refund to themselves; ask another admin.",
                    "ats-outflow-refund-to-self",
                )
            )
        refusal = _refusal(store, action, policy, today)
        if refusal:
            raise Refused(
                Words(f"Not confirmed: {refusal}", "ats-outflow-not-confirmed", reason=refusal)
            )
        return _carry_out(store, action, admin, policy, today)


def withdraw(store: Store, action_id: int, admin: str, policy: FeePolicy) -> Outcome:
    """Drop a proposed action (the proposer taking it back, or another admin declining)."""
    with store.transaction():
        action = _open_action(store, action_id, policy)
        store.close_fund_action(action.id, admin, status="withdrawn")
        _audit(store, admin, "withdrawn", action)
        closed = store.fund_action(action.id)
        assert closed is not None
        return Outcome(closed, False, _about("Withdrawn", "withdrawn", action, policy))


def describe(action: FundAction, policy: FeePolicy) -> Words:
    """One line about an action and where it stands, for admins."""
    amount = _money(action.amount, policy)
    what = {
        "refund": Words(
            f"refund of {amount} to {action.member} (payment {action.refund_of})",
            "ats-outflow-what-refund",
            amount=amount,
            member=action.member,
            id=action.refund_of,
        ),
        "expense": Words(
            f"expense of {amount} ({action.note})",
            "ats-outflow-what-expense",
            amount=amount,
            note=action.note,
        ),
        "transfer": Words(
            f"transfer of {amount} into the waiver fund",
            "ats-outflow-what-transfer",
            amount=amount,
        ),
    }[action.kind]
    key = "ats-outflow-described"
    proposer, decider = action.proposed_by, action.decided_by or ""
    if action.status == "done" and decider == proposer:
        return Words(
            f"the {what}, recorded by {decider} at {action.decided_at}.",
            f"{key}-recorded",
            what=what,
            admin=decider,
            date=action.decided_at or "",
        )
    if action.status == "done":
        return Words(
            f"the {what}, proposed by {proposer}, confirmed by {decider} at {action.decided_at}.",
            f"{key}-confirmed",
            what=what,
            proposer=proposer,
            admin=decider,
            date=action.decided_at or "",
        )
    if action.status == "withdrawn":
        return Words(
            f"the {what}, proposed by {proposer}, withdrawn by {decider}.",
            f"{key}-withdrawn",
            what=what,
            proposer=proposer,
            admin=decider,
        )
    return Words(
        f"the {what}, proposed by {proposer}, waiting for a second admin.",
        f"{key}-waiting",
        what=what,
        proposer=proposer,
    )


def _about(english: str, step: str, action: FundAction, policy: FeePolicy) -> Words:
    """`english: <the action described>`, as the message `ats-outflow-<step>`."""
    described = describe(action, policy)
    return Words(f"{english}: {described}", f"ats-outflow-{step}", action=described)


def _payment(store: Store, payment_id: int | None) -> LedgerEntry:
    found = store.ledger_entries(entry_id=payment_id) if payment_id is not None else []
    if not found or found[0].kind != "payment":
        raise Refused(choose_payment())
    return found[0]


def _open_action(store: Store, action_id: int, policy: FeePolicy) -> FundAction:
    action = store.fund_action(action_id)
    if action is None:
        raise Refused(
            Words(f"There is no action {action_id}.", "ats-outflow-no-action", id=action_id)
        )
    if action.status == "done":
        raise Overtaken(_about("Already done", "already-done", action, policy))
    if action.status == "withdrawn":
        raise Overtaken(_about("Nothing to do", "nothing-to-do", action, policy))
    return action


def _refusal(store: Store, action: FundAction, policy: FeePolicy, today: date) -> Words | None:
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
    paid_count = 0
    try:
        if action.kind == "transfer":
            paid = fund.transfer_surplus(
                store, action.amount, policy, admin, today, note=action.note
            )
            entry = store.ledger_entries(kind="transfer")[-1]
            paid_count = len(paid)
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
        raise Overtaken(
            Words("Another admin decided this action first.", "ats-outflow-decided-first")
        )
    _audit(store, admin, "done", action, ledger_id=entry.id)
    done = store.fund_action(action.id)
    assert done is not None
    described = describe(done, policy)
    if not paid_count:
        return Outcome(done, True, _about("Done", "done", done, policy))
    return Outcome(
        done,
        True,
        Words(
            f"Done: {described} It paid {paid_count} queued waiver(s).",
            "ats-outflow-done-paid",
            action=described,
            num_waivers=paid_count,
        ),
    )


def choose_payment() -> Words:
    return Words("Choose a payment to refund.", "ats-outflow-choose-payment")


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
