"""How the deployment is doing, read from the store: what `/metrics` and `/status.json`
report.

Every figure is counted from the store when asked, never kept in a process: the bot,
the bridge and the worker are separate processes, and only the store sees all of
them. `health` returns the open queue by state, decisions by kind and outcome, replies
posted, jobs by state, sign-ins, when the bot last finished a cycle — which the
bot records with `record_cycle` at the end of each successful cycle — and how many
accounts' databases were over the size limit when last measured.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from membership.store import Store
from policies.times import iso

CYCLE_CURSOR = "health:bot-cycle"  # a cursor row: when the bot last finished a cycle


@dataclass(frozen=True)
class Health:
    requests: dict[str, int] = field(default_factory=dict)  # state -> count
    decisions: dict[tuple[str, bool], int] = field(default_factory=dict)  # (kind, honoured)
    replies_posted: int = 0
    replies_pending: int = 0
    jobs: dict[str, int] = field(default_factory=dict)  # state -> count
    logins: int = 0
    last_cycle: datetime | None = None
    databases_over: int = 0  # accounts whose databases were over the limit when measured

    def as_json(self, now: datetime) -> dict[str, object]:
        age = (now - self.last_cycle).total_seconds() if self.last_cycle else None
        return {
            "requests_by_state": dict(sorted(self.requests.items())),
            "decisions": {
                f"{kind}:{'honoured' if honoured else 'ignored'}": n
                for (kind, honoured), n in sorted(self.decisions.items())
            },
            "replies_posted": self.replies_posted,
            "replies_pending": self.replies_pending,
            "jobs_by_state": dict(sorted(self.jobs.items())),
            "jobs_failed": self.jobs.get("failed", 0),
            "logins": self.logins,
            "last_bot_cycle": self.last_cycle.isoformat(timespec="seconds")
            if self.last_cycle
            else None,
            "last_bot_cycle_age_seconds": round(age) if age is not None else None,
            "databases_over_limit": self.databases_over,
        }


def record_cycle(store: Store, now: datetime | None = None) -> None:
    """The bot finished a cycle (call it after the cycle's writes are done)."""
    store.set_cursor(CYCLE_CURSOR, iso(now))


def health(store: Store) -> Health:
    replies = store.reply_counts()
    stamp = store.cursor(CYCLE_CURSOR)
    return Health(
        requests=store.request_counts(),
        decisions=store.decision_counts(),
        replies_posted=replies.get("posted", 0),
        replies_pending=replies.get("pending", 0),
        jobs=store.job_counts(),
        logins=store.audit_count("bridge-login"),
        last_cycle=datetime.fromisoformat(stamp) if stamp else None,
        databases_over=store.databases_over_limit_count(),
    )
