"""An admin's suspension of a member's shell account, and its restore.

Renewal suspends a lapsed member on its own (membership.renewal); this is the other
way: a chapter admin suspends a member (abuse, or at the member's own request) with a
reason, and restores them later. Each is one store transaction: the decision on the
account (what the login hosts follow once the worker has run the job), the member job
queued (membership.accounts) and an audit entry about the member (who, when; not
why). The reason is for the admins and stays on the account only while it is
suspended: it is never written on the wiki, shown to the member or kept in the
append-only audit log, which outlives every retention period. Asking twice changes
nothing and queues nothing: the second ask is refused with the reason why (already
suspended, not suspended), a `SuspensionRefused` whose `Words` (`ats-suspension-*`)
say it in the admin's language. A suspension renewal made is renewal's to lift (a
payment or a waiver, then `ats renewal run`), so an admin's restore refuses it rather
than leave renewal believing the member still suspended.
"""

from __future__ import annotations

from datetime import datetime

from membership.accounts import enqueue_restore, enqueue_suspend
from membership.progress import requests_of
from membership.records import AccountRecord, JobRecord
from membership.store import Store
from policies.errors import Refusal
from policies.usernames import canonical_username
from policies.words import Words

MAX_REASON = 500
SUSPENDED = "admin-suspended"  # audit actions, with `subject` (the member's page lists them)
RESTORED = "admin-restored"


class SuspensionRefused(Refusal, ValueError):
    """The suspension or restore cannot be done as asked; the message says why."""


def suspend(
    store: Store, username: str, reason: str, by: str, now: datetime | None = None
) -> JobRecord:
    """Suspend `username`'s account for `reason` (private) on `by`'s decision."""
    username = canonical_username(username)
    reason = " ".join(reason.split())
    if not reason:
        raise SuspensionRefused(
            Words(
                "a reason is required (it stays private to the admins)",
                "ats-suspension-reason-missing",
            )
        )
    if len(reason) > MAX_REASON:
        raise SuspensionRefused(
            Words(
                f"the reason is too long (at most {MAX_REASON} characters)",
                "ats-suspension-reason-too-long",
            )
        )
    with store.transaction():
        account = _account(store, username)
        if account.suspended:
            since = f" (since {account.suspended_at[:10]})" if account.suspended_at else ""
            raise SuspensionRefused(
                Words(
                    f"{username} is already suspended{since}",
                    "ats-suspension-already-suspended",
                    username=username,
                )
            )
        job = enqueue_suspend(store, username, reason, now=now)
        assert job is not None  # the account was read in this transaction
        store.audit(
            by,
            SUSPENDED,
            subject=username,
            shell_name=account.shell_name,
            job=job.id,
        )
    return job


def restore(store: Store, username: str, by: str, now: datetime | None = None) -> JobRecord:
    """Restore `username`'s account, suspended by an admin, on `by`'s decision."""
    username = canonical_username(username)
    with store.transaction():
        account = _account(store, username)
        if not account.suspended:
            raise SuspensionRefused(
                Words(
                    f"{username} is not suspended",
                    "ats-suspension-not-suspended",
                    username=username,
                )
            )
        if store.open_suspension(username) is not None:
            raise SuspensionRefused(
                Words(
                    f"{username} is suspended because their membership lapsed: record a "
                    "payment or grant a waiver, and the renewal run restores them",
                    "ats-suspension-lapsed",
                    username=username,
                )
            )
        job = enqueue_restore(store, username, now=now)
        assert job is not None
        store.audit(by, RESTORED, subject=username, shell_name=account.shell_name, job=job.id)
    return job


def suspended_by_admin(store: Store, username: str) -> bool:
    """Whether `username`'s account is suspended on an admin's decision (not renewal's)."""
    username = canonical_username(username)
    account = store.account_of(username)
    return bool(account and account.suspended and store.open_suspension(username) is None)


def _account(store: Store, username: str) -> AccountRecord:
    account = store.account_of(username)
    if account is None:
        if store.identity(username) is None and not requests_of(store, username):
            raise SuspensionRefused(
                Words(
                    f"{username} is not a member known here",
                    "ats-suspension-unknown",
                    username=username,
                )
            )
        raise SuspensionRefused(
            Words(
                f"{username} has no shell account yet",
                "ats-suspension-no-account",
                username=username,
            )
        )
    return account
