"""Changes to a member's existing account, queued as jobs for the provisioning worker.

Once a member has a shell account (`Store.account_of`), what they change on the
bridge must reach the directory: `keys_changed` queues a "keys" job after a key was
added or removed, and the worker sets the account's keys to the member's active
keys. `enqueue_suspend` / `enqueue_restore` are how the renewal code suspends a
lapsed member and restores them; the decision is recorded on the account at once
(it is what "good standing" reads), the directory follows when the worker runs the
job. Each member has at most one job of each kind — asking again refreshes it — and
a queued suspend is cancelled by a restore (and the other way round), so the last
decision wins. Nothing is queued for a member without an account.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from membership.records import JobRecord, SSHKeyRecord
from membership.store import Store
from policies.sshkeys import PublicKey
from policies.usernames import canonical_username

ACTOR = "provisioning"


def add_key(store: Store, username: str, key: PublicKey, actor: str) -> SSHKeyRecord:
    """Add `key` to `username`'s active keys, with its audit entry (about them when
    someone else adds it); DuplicateKeyError when they already have it. The caller
    queues the keys job (`keys_changed`) once its own changes are made."""
    record = store.add_ssh_key(
        username,
        type=key.type,
        bits=key.bits,
        key=key.line,
        fingerprint=key.fingerprint,
        comment=key.comment[:200],
    )
    evidence: dict[str, Any] = {"fingerprint": record.fingerprint, "type": record.type}
    if actor != username:
        evidence["subject"] = username
    store.audit(actor, "ssh-key-added", None, **evidence)
    return record


def keys_changed(
    store: Store, username: str, actor: str | None = None, now: datetime | None = None
) -> JobRecord | None:
    """Queue (or refresh) `username`'s keys job; None when they have no account yet."""
    username = canonical_username(username)
    account = store.account_of(username)
    if account is None:
        return None  # the account, when made, takes the keys active then
    with store.transaction():
        job, _ = store.enqueue_member_job(username, "keys", {"shell_name": account.shell_name}, now)
        store.audit(actor or username, "keys-queued", job=job.id, shell_name=account.shell_name)
    return job


def enqueue_suspend(
    store: Store, username: str, reason: str, actor: str = ACTOR, now: datetime | None = None
) -> JobRecord | None:
    """Suspend `username`'s account (e.g. membership lapsed); None without an account."""
    return _suspension_job(store, username, "suspend", reason, actor, now)


def enqueue_restore(
    store: Store, username: str, actor: str = ACTOR, now: datetime | None = None
) -> JobRecord | None:
    """Restore `username`'s suspended account (e.g. renewed); None without an account."""
    return _suspension_job(store, username, "restore", None, actor, now)


def _suspension_job(
    store: Store,
    username: str,
    kind: str,
    reason: str | None,
    actor: str,
    now: datetime | None,
) -> JobRecord | None:
    """Record the decision on the account and queue it; the opposite queued job is
    cancelled, so the last decision wins."""
    username = canonical_username(username)
    account = store.account_of(username)
    if account is None:
        return None
    opposite = "restore" if kind == "suspend" else "suspend"
    payload: dict[str, str] = {"shell_name": account.shell_name}
    evidence: dict[str, Any] = {}
    if reason is not None:
        payload["reason"] = evidence["reason"] = reason
    with store.transaction():
        store.set_account_suspended(account.shell_name, reason)
        store.cancel_member_job(username, opposite, now)
        job, _ = store.enqueue_member_job(username, kind, payload, now)
        store.audit(actor, f"{kind}-queued", job=job.id, shell_name=account.shell_name, **evidence)
    return job
