"""One job at a time per member: the lease a worker holds on a member while it runs
one of their jobs.

Two jobs about one member (a keys job and a suspend, say) would otherwise run on two
workers at once and each write what it read. `lease_next_job` takes the next due job
like `Store.lease_job`, but skips a job whose member is leased by a job still running
(its lease not lapsed), and leases the member together with the job, in one
transaction. The member lease is renewed with the job's (`renew`) and released when
the job ends (`release`); a killed worker's member lease lapses like its job lease.
The reconcile holds a member the same way while it fixes their account (`hold`).
A job queued again while it runs (the member changed something meanwhile) waits for
the member lease, so it runs after the run in flight, with the newest facts.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from membership.store import JobRecord, Store

DUE = (
    "SELECT id, member FROM jobs WHERE ((state = 'queued' AND next_attempt_at <= :now) "
    "OR (state = 'running' AND lease_until <= :now)) "
    "AND (member IS NULL OR NOT EXISTS (SELECT 1 FROM member_leases AS held "
    "WHERE held.member = jobs.member AND held.until > :now)) "
    "ORDER BY next_attempt_at, id LIMIT 1"
)


def lease_next_job(
    store: Store, worker: str, now: datetime | None = None, *, lease_seconds: int = 60
) -> JobRecord | None:
    """Lease the next due job whose member no running job holds; None when none is."""
    moment = now or datetime.now(UTC)
    stamp, until = _iso(moment), _iso(moment + timedelta(seconds=lease_seconds))
    with store.transaction():
        row = store.db.execute(DUE, {"now": stamp}).fetchone()
        if row is None:
            return None
        job_id, member = row
        store.db.execute(
            "UPDATE jobs SET state = 'running', leased_by = ?, lease_until = ?, "
            "attempts = attempts + 1, updated_at = ? WHERE id = ?",
            [worker, until, stamp, job_id],
        )
        if member is not None:
            store.db.execute(
                "INSERT OR REPLACE INTO member_leases (member, worker, job_id, until) "
                "VALUES (?, ?, ?, ?)",
                [member, worker, job_id, until],
            )
        return store.job(job_id)


def renew(
    store: Store, member: str, worker: str, now: datetime | None = None, *, lease_seconds: int = 60
) -> bool:
    """Extend `worker`'s lease on `member`; False if it no longer holds it."""
    until = _iso((now or datetime.now(UTC)) + timedelta(seconds=lease_seconds))
    cursor = store.db.execute(
        "UPDATE member_leases SET until = ? WHERE member = ? AND worker = ?",
        [until, member, worker],
    )
    return cursor.rowcount == 1


def hold(store: Store, member: str, holder: str, seconds: int, now: datetime | None = None) -> bool:
    """Lease `member` outside any job (the reconcile fixing their account); False
    when a running job (or another holder) has them."""
    moment = now or datetime.now(UTC)
    cursor = store.db.execute(
        "INSERT INTO member_leases (member, worker, job_id, until) VALUES (?, ?, 0, ?) "
        "ON CONFLICT (member) DO UPDATE SET worker = excluded.worker, job_id = 0, "
        "until = excluded.until WHERE member_leases.until <= ?",
        [member, holder, _iso(moment + timedelta(seconds=seconds)), _iso(moment)],
    )
    return cursor.rowcount == 1


def release(store: Store, member: str, worker: str) -> None:
    """Free `member` for the next job (nothing happens if `worker` lost the lease)."""
    store.db.execute("DELETE FROM member_leases WHERE member = ? AND worker = ?", [member, worker])


def holder(store: Store, member: str, now: datetime | None = None) -> str | None:
    """The worker running a job for `member` now, if any."""
    row = store.db.execute(
        "SELECT worker FROM member_leases WHERE member = ? AND until > ?",
        [member, _iso(now)],
    ).fetchone()
    return row[0] if row else None


def _iso(moment: datetime | None) -> str:
    return (moment or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")
