"""The waiver fund deciding a waiver: pay it now, queue it, or ask a second admin.

`decide_payout` is the pure rule: when the fund holds the fee, the fund pays it; when
it does not, `when_fund_is_short` in `policies/fees.toml` says whether the waiver waits
in a queue until surplus comes in (`queue`), or a second admin may let the fund go below
zero (`allow-negative-with-second-admin`). `settle_waiver` applies an admin's step
(from `membership.waivers.decide`) to the store: waiver status, ledger entry, queue and
audit, in one transaction. `release_queue` pays queued waivers, oldest first, once the
fund can. `requester_message` is what the bridge tells the member, in plain words.
`transfer_surplus` moves only what `membership.cover` allows: the surplus beyond the
reserve, never while operating money is below zero. Audit entries carry ids and
amounts, never the waiver's reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date

from membership import cover, obligations
from membership.ledger import LedgerEntry, LedgerError, fund_balance
from membership.records import QueuedWaiver, WaiverRecord
from membership.store import Store
from membership.waivers import WaiverRuleError, WaiverStep, already
from policies.fees import FeePolicy
from policies.money import format_minor


@dataclass(frozen=True)
class Payout:
    outcome: str  # pay | queue | needs-second-admin
    fund_after: int  # the fund's balance if the outcome is carried out


def decide_payout(fund: int, amount: int, rule: str, *, second_admin: bool) -> Payout:
    """Whether a granted waiver of `amount` is paid from a fund holding `fund`."""
    if fund >= amount:
        return Payout("pay", fund - amount)
    if rule == "allow-negative-with-second-admin":
        if second_admin:
            return Payout("pay", fund - amount)
        return Payout("needs-second-admin", fund)
    return Payout("queue", fund)


@dataclass(frozen=True)
class Settled:
    status: str  # the waiver's status now: requested | granted | refused | queued | withdrawn
    admin_message: str
    ok: bool = True  # False: nothing was granted (the year was already settled)
    # What happened, for a reader in another language than the message's: refused,
    # proposed, second-admin, already-queued, queued, granted or withdrawn; and the
    # amounts it names (minor units: `fund`, `fee`).
    code: str = ""
    amounts: Mapping[str, int] = field(default_factory=dict)


def settle_waiver(
    store: Store,
    waiver: WaiverRecord,
    step: WaiverStep,
    admin: str,
    policy: FeePolicy,
    today: date,
) -> Settled:
    """Carry out `step` (already allowed by `waivers.decide`) against the fund.

    Raises `WaiverRuleError` when the waiver changed since `waiver` was read (another
    admin got there first): the loser of a race is told who won, nothing is paid twice.
    """
    with store.transaction():
        fresh = store.waiver(waiver.id)
        if fresh is None or _seen(fresh) != _seen(waiver):
            raise WaiverRuleError(already(fresh or waiver))
        if step.status != "refused":
            moot = obligations.refuse_settled_waiver(store, policy, waiver, admin, today)
            if moot is not None:
                return Settled("withdrawn", moot, ok=False, code="withdrawn")
        if step.status != "granted":
            store.decide_waiver(waiver.id, admin, status=step.status)
            if step.status == "refused":  # a refused waiver leaves the fund's queue
                store.release_queued_waiver(waiver.id)
            store.audit(admin, step.audit_action, subject=waiver.username, waiver_id=waiver.id)
            refused = step.status == "refused"
            return Settled(
                step.status,
                "Waiver refused." if refused else "Grant recorded; a second admin must confirm it.",
                code="refused" if refused else "proposed",
            )
        fund = fund_balance(store.ledger_entries())
        second = step.operation == "confirm"
        payout = decide_payout(
            fund, policy.annual_fee, policy.when_fund_is_short, second_admin=second
        )
        money = format_minor(policy.annual_fee, policy.currency)
        if payout.outcome == "needs-second-admin":
            store.decide_waiver(waiver.id, admin, status="requested")
            store.audit(
                admin, "waiver-grant-proposed", subject=waiver.username, waiver_id=waiver.id
            )
            return Settled(
                "requested",
                f"The fund holds {format_minor(fund, policy.currency)} {policy.currency}, less "
                f"than the fee ({money}); a second admin must confirm this grant, which takes "
                "the fund below zero.",
                code="second-admin",
                amounts={"fund": fund, "fee": policy.annual_fee},
            )
        if payout.outcome == "queue":
            if not second:
                store.decide_waiver(waiver.id, admin, status="requested")
            queued = store.queue_waiver(
                waiver.id,
                amount=policy.annual_fee,
                currency=policy.currency,
                operation=step.operation,
                queued_by=admin,
            )
            if not queued:
                return Settled(
                    "queued", "This waiver is already waiting for the fund.", code="already-queued"
                )
            store.audit(admin, "waiver-queued", subject=waiver.username, waiver_id=waiver.id)
            return Settled(
                "queued",
                f"The fund holds {format_minor(fund, policy.currency)} {policy.currency}, less "
                f"than the fee ({money}); the waiver is granted and waits in the queue until "
                "surplus moved into the fund pays it.",
                code="queued",
                amounts={"fund": fund, "fee": policy.annual_fee},
            )
        store.release_queued_waiver(waiver.id)
        store.audit(admin, step.audit_action, subject=waiver.username, waiver_id=waiver.id)
        _pay(store, waiver.id, waiver.username, step.operation, admin, policy, today)
        return Settled(
            "granted",
            f"Waiver granted; the fund paid {money} {policy.currency} and now holds "
            f"{format_minor(payout.fund_after, policy.currency)}.",
            code="granted",
            amounts={"fund": payout.fund_after, "fee": policy.annual_fee},
        )


def release_queue(store: Store, policy: FeePolicy, actor: str, today: date) -> list[int]:
    """Pay queued waivers, oldest first, while the fund can; return the waivers paid."""
    paid = []
    with store.transaction():
        fund = fund_balance(store.ledger_entries())
        for queued in store.queued_waivers():
            waiver = store.waiver(queued.waiver_id)
            assert waiver is not None
            # A year settled otherwise since the waiver was queued: withdrawn, never paid.
            if waiver.status == "requested" and obligations.refuse_settled_waiver(
                store, policy, waiver, actor, today
            ):
                continue
            if fund < queued.amount:
                break
            store.release_queued_waiver(queued.waiver_id)
            if waiver.status == "requested":
                _pay(
                    store,
                    waiver.id,
                    waiver.username,
                    queued.operation,
                    queued.queued_by,
                    policy,
                    today,
                    amount=queued.amount,
                )
                store.audit(actor, "waiver-released", subject=waiver.username, waiver_id=waiver.id)
                fund -= queued.amount
                paid.append(waiver.id)
    return paid


def queue_position(store: Store, waiver_id: int) -> int | None:
    """1 for the next waiver the fund will pay; None when the waiver is not queued."""
    return position_in(store.queued_waivers(), waiver_id)


def position_in(queue: Iterable[QueuedWaiver], waiver_id: int) -> int | None:
    """`queue_position` in the queue as read (`store.queued_waivers()`)."""
    for position, queued in enumerate(queue, start=1):
        if queued.waiver_id == waiver_id:
            return position
    return None


def requester_message(store: Store, username: str, policy: FeePolicy) -> str | None:
    """What the bridge tells `username` about their latest waiver, or None if they asked none."""
    asked = store.waivers(username)
    if not asked:
        return None
    waiver = asked[-1]
    position = queue_position(store, waiver.id)
    if position is not None:
        return (
            "Your waiver was approved. The waiver fund cannot pay it yet, so it waits in "
            f"line (number {position}); your fee counts as settled as soon as the fund pays "
            "it, and you need do nothing. Paying the fee yourself settles it at once."
        )
    if waiver.status == "granted":
        return "Your fee waiver was granted: you have nothing to pay this year."
    if waiver.status == "withdrawn":
        return (
            "Your waiver request was withdrawn because your fee for this year is settled; "
            "the waiver fund pays nothing for it and you need do nothing."
        )
    if waiver.status == "refused":
        return (
            "Your waiver request was not granted. You can pay the fee, or write to the "
            "chapter's admins if your situation changes."
        )
    if policy.waiver_needs_second_admin or waiver.awaiting_confirmation:
        return (
            "Your waiver request is with the chapter's admins; two of them decide it. "
            "Your reason is read by admins only."
        )
    return "Your waiver request is with the chapter's admins. Your reason is read by admins only."


def _seen(waiver: WaiverRecord) -> tuple[str, str | None, str | None]:
    return (waiver.status, waiver.decided_by, waiver.confirmed_by)


def _pay(
    store: Store,
    waiver_id: int,
    username: str,
    operation: str,
    admin: str,
    policy: FeePolicy,
    today: date,
    *,
    amount: int | None = None,
) -> None:
    if operation == "confirm":
        store.confirm_waiver(waiver_id, admin)
    else:
        store.decide_waiver(waiver_id, admin, status="granted")
    store.add_ledger_entry(
        LedgerEntry(
            "waiver",
            policy.annual_fee if amount is None else amount,
            policy.currency,
            today,
            member=username,
            waiver_id=waiver_id,
            recorded_by=admin,
        )
    )
    store.audit(admin, "waiver-paid-by-fund", subject=username, waiver_id=waiver_id)


def transfer_surplus(
    store: Store, amount: int, policy: FeePolicy, actor: str, today: date, note: str = ""
) -> list[int]:
    """Move `amount` of operating money into the fund, then pay queued waivers it covers.

    Raises `LedgerError` when the operating surplus does not cover `amount`
    (`cover.transfer_refusal`); the check and the entry share one write transaction.
    """
    with store.transaction():
        refusal = cover.transfer_refusal(
            store.ledger_entries(), amount, policy.currency, policy, today
        )
        if refusal:
            raise LedgerError(refusal)
        store.add_ledger_entry(
            LedgerEntry(
                "transfer",
                amount,
                policy.currency,
                today,
                note=note or "surplus into the waiver fund",
                recorded_by=actor,
            )
        )
        store.audit(actor, "fund-transfer", amount=amount, currency=policy.currency)
        return release_queue(store, policy, actor, today)
