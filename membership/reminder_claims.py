"""Renewal reminders claimed in the store before they are posted, like the bot's outbox.

Two `ats renewal run` at once would both find a member's reminder due and both post
it, so a run first claims every reminder it means to post, in one write transaction:
a row of `reminders` (unique per member, period and stage) with the outcome `claimed`
and who holds it (a random token naming the run, its host and pid). Only then does it
read the talk pages and post; each posted reminder is settled (`posted`, its revision)
by the run that holds the claim. A reminder another live run holds is left to it.

A run that died holding claims (killed between posting and settling, or before
posting) leaves them `claimed`. Its claims are taken over at once when it ran on this
host and its pid is gone (or it was an earlier run of this very process), else after
`CLAIM_TTL`. The run that takes a claim over reads the talk page after claiming: the
reminder's hidden marker there (bot/reminders.py) means it was posted, and it is settled
without posting again; no marker means the post never happened, and it is posted.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from membership.lease import pid_alive
from membership.records import ReminderRecord
from membership.store import Store
from policies.times import iso

CLAIMED = "claimed"  # the outcome of a claimed reminder (the store's reminders room writes it)
# A claim of a run on another host cannot be checked by pid: it is abandoned after this.
CLAIM_TTL = timedelta(hours=6)


class Due(Protocol):
    """What a claim names: a due reminder (membership.renewal.Reminder fits)."""

    @property
    def member(self) -> str: ...
    @property
    def period(self) -> str: ...
    @property
    def stage(self) -> int: ...


@dataclass(frozen=True)
class Claimant:
    """One renewal run: the token that names its claims, its host and pid."""

    token: str
    host: str
    pid: int

    @classmethod
    def this_run(cls) -> Claimant:
        return cls(secrets.token_hex(8), socket.gethostname(), os.getpid())


def abandoned(
    record: ReminderRecord,
    me: Claimant,
    now: datetime,
    *,
    alive: Callable[[int], bool] = pid_alive,
) -> bool:
    """Whether `record`, a claim, was left by a run that is gone and may be taken over."""
    if record.outcome != CLAIMED or record.claim_token == me.token:
        return False
    if record.claim_host == me.host and record.claim_pid is not None:
        if record.claim_pid == me.pid:
            return True  # an earlier run in this process ended without settling it
        return not alive(record.claim_pid)
    since = datetime.fromisoformat(record.claimed_at or record.at)
    return now - since > CLAIM_TTL


@dataclass
class Claims:
    taken: list[Due] = field(default_factory=list)  # new claims
    taken_over: list[Due] = field(default_factory=list)  # left by a run that is gone
    elsewhere: list[Due] = field(default_factory=list)  # another live run holds them

    @property
    def ours(self) -> list[Due]:
        return self.taken + self.taken_over


def claim(
    store: Store,
    due: Iterable[Due],
    me: Claimant,
    *,
    now: datetime | None = None,
    alive: Callable[[int], bool] = pid_alive,
) -> Claims:
    """Claim each due reminder not yet decided, in one write transaction."""
    now = now or datetime.now(UTC)
    at = iso(now)
    holder = (me.token, me.host, me.pid)
    claims = Claims()
    with store.transaction():
        for reminder in due:
            key = (reminder.member, reminder.period, int(reminder.stage))
            if store.claim_reminder(*key, holder, at):
                claims.taken.append(reminder)
                continue
            record = store.reminder(*key)
            if record is None or record.outcome != CLAIMED:
                continue  # decided by another run since the plan was made
            if not abandoned(record, me, now, alive=alive):
                if record.claim_token != me.token:
                    claims.elsewhere.append(reminder)
                continue
            store.take_over_claim(record.id, record.claim_token, holder, at)
            claims.taken_over.append(reminder)
    return claims


def settle(
    store: Store,
    reminder: Due,
    me: Claimant,
    outcome: str,
    *,
    revid: int | None = None,
    note: str = "",
    now: datetime | None = None,
) -> bool:
    """Record what became of a claimed reminder; False if this run no longer holds it."""
    return store.settle_claim(
        reminder.member,
        reminder.period,
        reminder.stage,
        me.token,
        outcome,
        revid=revid,
        note=note,
        at=iso(now),
    )


def release(store: Store, reminders: Iterable[Due], me: Claimant) -> None:
    """Give up claims this run holds and did not settle (the wiki failed): the next run
    claims them again, reads the talk page, and posts only what is not there."""
    with store.transaction():
        for reminder in reminders:
            store.drop_claim(reminder.member, reminder.period, reminder.stage, me.token)
