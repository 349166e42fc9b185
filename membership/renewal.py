"""The yearly renewal: who is covered until when, who is due a reminder, who lapsed.

The pure part works on one member's payments and waivers: `paid_until` is the last
day the fee (or a waiver) covers, counted exactly as `policies.fees.standing` counts
it (a payment or waiver covers the 365 days from its date); `reminder_stage` says which
reminder of `remind_days_before` (policies/fees.toml) is due on a day; `decide` turns
a member's standing, their account and whether they are suspended into the actions of
one run. The store part (`plan`, `apply_accounts`) reads members — the subjects of
requests that reached `done`, and the owners of person accounts — and, for the lapsed,
queues a `suspend` job (once, audited; the suspension is remembered in the store;
the member's standing is read again in the transaction that queues it, so a payment
or waiver recorded while a run works means no suspension) and,
for a suspended member who paid or got a waiver since, a `restore` job. Nothing is
deleted: suspension locks the account and keeps its keys (provisioning/ldap.py).
The wiki side (posting the reminders) is bot/reminders.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from membership import ledger
from membership.ledger import LedgerEntry
from membership.records import AccountRecord, SuspensionRecord, WaiverRecord
from membership.reminder_claims import CLAIMED
from membership.states import State
from membership.store import Store
from policies.fees import FeePolicy, fee_settled, standing
from policies.usernames import canonical_username

ACTOR = "renewal"
YEAR = timedelta(days=365)
COVERED = ("paid", "waived")


# -- pure ----------------------------------------------------------------------


def paid_until(
    policy: FeePolicy,
    payments: Iterable[tuple[int, str, date]],
    waived_on: Iterable[date],
    today: date,
) -> date | None:
    """The last day covered by what is known today (payments and waivers up to today).

    Coverage only changes on the day a payment or waiver comes in or 365 days later, so
    the candidates are `day + 364` for each of them; the latest candidate on which the
    fee counts as settled (or the waiver as current) is the answer. None: never covered.
    """
    payments = [p for p in payments if p[2] <= today]
    waivers = [d for d in waived_on if d <= today]
    ends = [d + YEAR - timedelta(days=1) for d in waivers]
    ends += [
        end
        for _, _, paid_on in payments
        if fee_settled(policy, payments, end := paid_on + YEAR - timedelta(days=1))
    ]
    return max(ends) if ends else None


def renews_on(until: date) -> date:
    """The day the next year starts: the day after the last covered day."""
    return until + timedelta(days=1)


def reminder_stage(policy: FeePolicy, until: date | None, today: date) -> int | None:
    """The reminder due today: the smallest N of `remind_days_before` with the renewal
    date at most N days away (and not passed). Each stage is sent once per period, so a
    run that missed the 30-day window sends the 7-day one only."""
    if until is None:
        return None
    days_left = (renews_on(until) - today).days
    if days_left <= 0:
        return None
    stages = [n for n in policy.remind_days_before if days_left <= n]
    return min(stages) if stages else None


@dataclass(frozen=True)
class Member:
    name: str
    standing: str  # paid | waived | grace | lapsed
    paid_until: date | None
    account: str | None  # the person account's shell name
    suspended: bool  # an open renewal suspension in the store
    suspended_otherwise: bool = False  # the account is suspended for another reason

    @property
    def renews_on(self) -> date | None:
        return renews_on(self.paid_until) if self.paid_until else None


@dataclass(frozen=True)
class Reminder:
    member: str
    period: str  # ISO date of the last covered day: one period, one set of reminders
    stage: int  # days before
    renews_on: date


@dataclass(frozen=True)
class Actions:
    remind: Reminder | None = None
    suspend: bool = False
    restore: bool = False
    never_covered: bool = False  # lapsed without ever paying: not suspended, reported


def decide(policy: FeePolicy, member: Member, today: date) -> Actions:
    """What one run does for `member` (reminders already sent are filtered later)."""
    if member.suspended:
        return Actions(restore=member.standing in COVERED and member.account is not None)
    if member.standing == "lapsed":
        if member.suspended_otherwise:
            return Actions()  # an admin suspended it for another reason: not ours to touch
        if member.paid_until is None:
            return Actions(never_covered=True)
        return Actions(suspend=member.account is not None)
    if member.standing in COVERED:
        stage = reminder_stage(policy, member.paid_until, today)
        if stage is not None and member.paid_until is not None:
            return Actions(
                remind=Reminder(
                    member.name, member.paid_until.isoformat(), stage, renews_on(member.paid_until)
                )
            )
    return Actions()


def standing_of(
    policy: FeePolicy,
    name: str,
    entries: Iterable[LedgerEntry],
    waivers: Iterable[WaiverRecord],
    account: AccountRecord | None,
    suspension: SuspensionRecord | None,
    today: date,
) -> Member:
    """`name`'s standing from what the store holds of them: their ledger entries, their
    waivers (those granted count), their person account and their open suspension."""
    payments = ledger.net_payments([e for e in entries if e.currency == policy.currency], name)
    waived_on = [
        datetime.fromisoformat(w.confirmed_at or w.decided_at or w.requested_at).date()
        for w in waivers
        if w.status == "granted"
    ]
    ours = suspension is not None
    return Member(
        name=name,
        standing=standing(policy, payments, waived_on, today),
        paid_until=paid_until(policy, payments, waived_on, today),
        account=account.shell_name if account else None,
        suspended=ours,
        suspended_otherwise=not ours and bool(account and getattr(account, "suspended", False)),
    )


# -- the store -----------------------------------------------------------------


def members(store: Store) -> list[str]:
    """Subjects of requests that reached `done`, and owners of person accounts."""
    names: set[str] = {
        canonical_username(r.subject or r.requester)
        for r in store.requests(state=State.DONE)
        if r.type != "tool"
    }
    names |= {canonical_username(a.owner) for a in store.accounts("person")}
    return sorted(names)


def member_standing(store: Store, policy: FeePolicy, name: str, today: date) -> Member:
    return standing_of(
        policy,
        name,
        store.ledger_entries(member=name),
        store.waivers(name, status="granted"),
        store.account_of(name),
        store.open_suspension(name),
        today,
    )


@dataclass
class Plan:
    today: date
    members: list[Member] = field(default_factory=list)
    reminders: list[Reminder] = field(default_factory=list)  # due, not yet decided
    suspend: list[Member] = field(default_factory=list)
    restore: list[Member] = field(default_factory=list)
    never_covered: list[str] = field(default_factory=list)


def plan(store: Store, policy: FeePolicy, today: date) -> Plan:
    result = Plan(today)
    for name in members(store):
        member = member_standing(store, policy, name, today)
        result.members.append(member)
        actions = decide(policy, member, today)
        remind = actions.remind
        if remind:
            # A claim still open (being posted, or left by a run that died) is due:
            # membership.reminder_claims decides whether this run may take it over.
            known = store.reminder(remind.member, remind.period, remind.stage)
            if known is None or known.outcome == CLAIMED:
                result.reminders.append(remind)
        if actions.suspend:
            result.suspend.append(member)
        if actions.restore:
            result.restore.append(member)
        if actions.never_covered:
            result.never_covered.append(name)
    return result


@dataclass
class AccountChanges:
    suspended: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    still_covered: list[str] = field(default_factory=list)  # settled after the plan was made


def apply_accounts(
    store: Store, policy: FeePolicy, the_plan: Plan, *, dry_run: bool = False
) -> AccountChanges:
    """Queue suspend jobs for the lapsed and restore jobs for those who renewed."""
    changes = AccountChanges()
    for member in the_plan.suspend:
        assert member.account is not None and member.paid_until is not None
        grace_ended = member.paid_until + timedelta(days=policy.grace_days)
        reason = (
            f"membership lapsed: covered until {member.paid_until.isoformat()}, "
            f"grace period ended {grace_ended.isoformat()}"
        )
        if dry_run:
            changes.suspended.append(member.name)
            continue
        try:
            with store.transaction():
                if store.open_suspension(member.name) is not None:
                    continue  # another run got there first
                # A payment or waiver recorded since the plan was made wins: the
                # standing is read again in the transaction that would queue the job.
                now = member_standing(store, policy, member.name, the_plan.today)
                if not decide(policy, now, the_plan.today).suspend:
                    changes.still_covered.append(member.name)
                    continue
                job_id = _enqueue(store, "suspend", member.name, member.account, reason)
                store.record_suspension(
                    member.name,
                    member.account,
                    reason,
                    paid_until=member.paid_until.isoformat(),
                    job_id=job_id,
                )
                store.audit(
                    ACTOR,
                    "lapsed-suspension-queued",
                    None,
                    member=member.name,
                    shell_name=member.account,
                    paid_until=member.paid_until.isoformat(),
                    job=job_id,
                    reason=reason,
                )
        except RenewalError as error:
            changes.errors.append(f"{member.name}: {error}")
            continue
        changes.suspended.append(member.name)
    for member in the_plan.restore:
        assert member.account is not None
        reason = f"membership renewed ({member.standing})"
        if dry_run:
            changes.restored.append(member.name)
            continue
        try:
            with store.transaction():
                open_one = store.open_suspension(member.name)
                if open_one is None:
                    continue
                job_id = _enqueue(store, "restore", member.name, member.account, reason)
                store.record_restore(open_one.id, reason, job_id=job_id)
                store.audit(
                    ACTOR,
                    "renewed-restore-queued",
                    None,
                    member=member.name,
                    shell_name=member.account,
                    standing=member.standing,
                    job=job_id,
                )
        except RenewalError as error:
            changes.errors.append(f"{member.name}: {error}")
            continue
        changes.restored.append(member.name)
    return changes


class RenewalError(RuntimeError):
    """A suspend or restore job could not be queued; the message says why."""


def _enqueue(store: Store, kind: str, member: str, shell_name: str, reason: str) -> int | None:
    """Queue a `suspend` / `restore` job (membership.accounts: one job per member and kind)."""
    helper = _helper(f"enqueue_{kind}")
    if helper is not None:
        result = helper(store, member, reason) if kind == "suspend" else helper(store, member)
        if result is None:
            raise RenewalError(f"{member} has no account to {kind}")
        return _job_id(result)
    enqueue = getattr(store, "enqueue_member_job", None)
    if enqueue is None:
        raise RenewalError(f"this store cannot queue a {kind} job (no member jobs)")
    job, _ = enqueue(member, kind, {"shell_name": shell_name, "reason": reason})
    return int(job.id)


def _helper(name: str) -> Any:
    import importlib

    for module in ("membership.accounts", "provisioning.worker"):
        try:
            found = getattr(importlib.import_module(module), name, None)
        except ImportError:
            continue
        if found is not None:
            return found
    return None


def _job_id(result: Any) -> int | None:
    if isinstance(result, tuple) and result:
        result = result[0]
    if isinstance(result, int):
        return result
    return getattr(result, "id", None)
