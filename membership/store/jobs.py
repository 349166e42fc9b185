"""The jobs room: provisioning jobs, leased by one worker at a time, one member at a time.

A job is about a request (one per request and kind: person | tool) or about a member
(`keys | suspend | restore`, one per member and kind, refreshed when asked again).
A worker takes the next due job with a lease (`lease_job`, one atomic claim); a lease
that runs out (the worker was killed) makes the job available again. A failure queues
it again after an exponential back-off, or marks it failed; a directory that cannot be
reached defers it without spending an attempt.

Two jobs about one member (a keys job and a suspend, say) would otherwise run on two
workers at once and each write what it read, so a member's job also leases the member
(a row of `member_leases`, taken with the job in one transaction): `lease_job` passes
over a job whose member a running job holds. The member lease is renewed with the
job's (`renew_member_lease`) and released when the job ends (`release_member`); a
killed worker's member lease lapses like its job lease. The reconcile holds a member
the same way while it fixes their account (`hold_member`). A job queued again while it
runs waits for the member lease, so it runs after the run in flight, with the newest
facts.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from membership.records import FAILING_STATES, JobRecord, RequestRecord
from membership.store.connection import _AMONG, Query, StoreConnection, _array, each
from policies.times import iso
from policies.usernames import canonical_username


class JobsRoom(StoreConnection):
    def enqueue_job(
        self, request_id: int, kind: str, payload: Mapping[str, Any], now: datetime | None = None
    ) -> tuple[JobRecord, bool]:
        """The job for this request and kind, and whether it was queued just now."""
        stamp = iso(now)
        with self.transaction():
            created = self._changed(
                "INSERT OR IGNORE INTO jobs (request_id, kind, payload, state, attempts, "
                "next_attempt_at, created_at, updated_at) VALUES (?, ?, ?, 'queued', 0, ?, ?, ?)",
                [request_id, kind, json.dumps(dict(payload), ensure_ascii=False)]
                + [stamp, stamp, stamp],
            )
            row = self._first("jobs", "request_id = ? AND kind = ?", [request_id, kind])
        assert row is not None
        return JobRecord.from_row(row), created == 1

    def enqueue_member_job(
        self, member: str, kind: str, payload: Mapping[str, Any], now: datetime | None = None
    ) -> tuple[JobRecord, bool]:
        """Queue `member`'s job of this kind to run `now`; whether a new row was made.

        There is one job per member and kind: asking again refreshes it (new payload,
        due now, attempts and error cleared) whatever its state, so changes never pile
        up. A job running meanwhile cannot finish it (`finish_job` wants it running),
        so it runs again with the newest facts.
        """
        stamp = iso(now)
        text = json.dumps(dict(payload), ensure_ascii=False)
        with self.transaction():
            created = self._changed(
                "INSERT OR IGNORE INTO jobs (request_id, member, kind, payload, state, attempts, "
                "next_attempt_at, created_at, updated_at) "
                "VALUES (NULL, ?, ?, ?, 'queued', 0, ?, ?, ?)",
                [member, kind, text, stamp, stamp, stamp],
            )
            if not created:
                self._changed(
                    "UPDATE jobs SET state = 'queued', payload = ?, next_attempt_at = ?, "
                    "attempts = 0, last_error = NULL, lease_until = NULL, updated_at = ? "
                    "WHERE request_id IS NULL AND member = ? AND kind = ?",
                    [text, stamp, stamp, member, kind],
                )
            row = self._first(
                "jobs", "request_id IS NULL AND member = ? AND kind = ?", [member, kind]
            )
        assert row is not None
        return JobRecord.from_row(row), created == 1

    def cancel_member_job(self, member: str, kind: str, now: datetime | None = None) -> bool:
        """Cancel `member`'s queued job of this kind (e.g. a restore overtaken by a suspend)."""
        cancelled = self._changed(
            "UPDATE jobs SET state = 'cancelled', updated_at = ? "
            "WHERE request_id IS NULL AND member = ? AND kind = ? AND state = 'queued'",
            [iso(now), member, kind],
        )
        return cancelled == 1

    def member_jobs(self, member: str) -> list[JobRecord]:
        return self.answer(self.member_jobs_query(member))

    def member_jobs_query(self, member: str) -> Query[list[JobRecord]]:
        """`member_jobs`, as a query to read with others (`read`)."""
        return self._later(
            "jobs", "request_id IS NULL AND member = ?", [member], each(JobRecord.from_row)
        )

    def request_jobs_query(self, subject: str) -> Query[list[JobRecord]]:
        """The jobs of the requests whose subject is `subject` (as `requests_for` finds
        them), in order: `jobs_of_requests` of those requests, read with them."""
        where = "request_id IN (SELECT id FROM requests WHERE subject_key = ?)"
        return self._later("jobs", where, [canonical_username(subject)], each(JobRecord.from_row))

    def lease_job(
        self, worker: str, now: datetime | None = None, *, lease_seconds: int = 300
    ) -> JobRecord | None:
        """Take the next due job (queued and due, or running with a lapsed lease) whose
        member no running job holds, leasing its member with it; None when none is."""
        stamp = iso(now)
        until = iso((now or datetime.now(UTC)) + timedelta(seconds=lease_seconds))
        with self.transaction():
            row = self._first(
                "jobs",
                "((state = 'queued' AND next_attempt_at <= ?) "
                "OR (state = 'running' AND lease_until <= ?)) "
                "AND (member IS NULL OR NOT EXISTS (SELECT 1 FROM member_leases AS held "
                "WHERE held.member = jobs.member AND held.until > ?))",
                [stamp, stamp, stamp],
                order_by="next_attempt_at, id",
            )
            if row is None:
                return None
            self._changed(
                "UPDATE jobs SET state = 'running', leased_by = ?, lease_until = ?, "
                "attempts = attempts + 1, updated_at = ? WHERE id = ?",
                [worker, until, stamp, row["id"]],
            )
            if row["member"] is not None:
                self._changed(
                    "INSERT OR REPLACE INTO member_leases (member, worker, job_id, until) "
                    "VALUES (?, ?, ?, ?)",
                    [row["member"], worker, row["id"], until],
                )
            return self.job(row["id"])

    def finish_job(self, job_id: int, worker: str, now: datetime | None = None) -> bool:
        """Mark a job done; False if `worker` no longer holds its lease."""
        finished = self._changed(
            "UPDATE jobs SET state = 'done', last_error = NULL, lease_until = NULL, "
            "updated_at = ? WHERE id = ? AND leased_by = ? AND state = 'running'",
            [iso(now), job_id, worker],
        )
        return finished == 1

    def fail_job(
        self,
        job_id: int,
        worker: str,
        error: str,
        now: datetime | None = None,
        *,
        retry: bool,
        base_delay: int = 60,
        max_delay: int = 3600,
    ) -> JobRecord | None:
        """Record a failure: queued again after an exponential back-off, or failed."""
        job = self.job(job_id)
        if job is None or job.leased_by != worker or job.state != "running":
            return None
        delay = min(max_delay, base_delay * 2 ** max(0, job.attempts - 1))
        due = iso((now or datetime.now(UTC)) + timedelta(seconds=delay))
        self._changed(
            "UPDATE jobs SET state = ?, last_error = ?, next_attempt_at = ?, "
            "lease_until = NULL, updated_at = ? WHERE id = ?",
            ["queued" if retry else "failed", error, due, iso(now), job_id],
        )
        return self.job(job_id)

    def renew_lease(
        self, job_id: int, worker: str, now: datetime | None = None, *, lease_seconds: int = 60
    ) -> bool:
        """Extend `worker`'s lease on a running job; False if it no longer holds it."""
        until = iso((now or datetime.now(UTC)) + timedelta(seconds=lease_seconds))
        renewed = self._changed(
            "UPDATE jobs SET lease_until = ? WHERE id = ? AND leased_by = ? AND state = 'running'",
            [until, job_id, worker],
        )
        return renewed == 1

    def defer_job(
        self, job_id: int, worker: str, error: str, now: datetime | None = None, *, delay: int = 30
    ) -> JobRecord | None:
        """Queue a running job again after `delay` seconds without spending an attempt:
        the directory could not be reached, which says nothing about the job itself."""
        due = iso((now or datetime.now(UTC)) + timedelta(seconds=delay))
        deferred = self._changed(
            "UPDATE jobs SET state = 'queued', attempts = MAX(0, attempts - 1), last_error = ?, "
            "next_attempt_at = ?, lease_until = NULL, updated_at = ? "
            "WHERE id = ? AND leased_by = ? AND state = 'running'",
            [error, due, iso(now), job_id, worker],
        )
        return self.job(job_id) if deferred == 1 else None

    def requeue_job(self, job_id: int, payload: Mapping[str, Any] | None = None) -> JobRecord:
        """Queue a job again now (an admin fixed its cause), optionally with a new payload."""
        values: dict[str, Any] = {"state": "queued", "next_attempt_at": iso()}
        if payload is not None:
            values["payload"] = json.dumps(dict(payload), ensure_ascii=False)
        values["updated_at"] = iso()
        self._update("jobs", job_id, values)
        job = self.job(job_id)
        assert job is not None
        return job

    def renew_member_lease(
        self, member: str, worker: str, now: datetime | None = None, *, lease_seconds: int = 60
    ) -> bool:
        """Extend `worker`'s lease on `member`; False if it no longer holds it."""
        until = iso((now or datetime.now(UTC)) + timedelta(seconds=lease_seconds))
        renewed = self._changed(
            "UPDATE member_leases SET until = ? WHERE member = ? AND worker = ?",
            [until, member, worker],
        )
        return renewed == 1

    def hold_member(
        self, member: str, holder: str, seconds: int, now: datetime | None = None
    ) -> bool:
        """Lease `member` outside any job (the reconcile fixing their account); False
        when a running job (or another holder) has them."""
        moment = now or datetime.now(UTC)
        held = self._changed(
            "INSERT INTO member_leases (member, worker, job_id, until) VALUES (?, ?, 0, ?) "
            "ON CONFLICT (member) DO UPDATE SET worker = excluded.worker, job_id = 0, "
            "until = excluded.until WHERE member_leases.until <= ?",
            [member, holder, iso(moment + timedelta(seconds=seconds)), iso(moment)],
        )
        return held == 1

    def release_member(self, member: str, worker: str) -> None:
        """Free `member` for the next job (nothing happens if `worker` lost the lease)."""
        self._changed("DELETE FROM member_leases WHERE member = ? AND worker = ?", [member, worker])

    def member_lease_holder(self, member: str, now: datetime | None = None) -> str | None:
        """The worker running a job for `member` now (or the reconcile holding them), if any."""
        row = self._first("member_leases", "member = ? AND until > ?", [member, iso(now)])
        return str(row["worker"]) if row else None

    def job(self, job_id: int) -> JobRecord | None:
        row = self._first("jobs", "id = ?", [job_id])
        return JobRecord.from_row(row) if row else None

    def jobs(self, state: str | None = None, request_id: int | None = None) -> list[JobRecord]:
        rows = self._matching("jobs", state=state, request_id=request_id)
        return [JobRecord.from_row(row) for row in rows]

    def failing_jobs(self) -> list[JobRecord]:
        """The jobs that are `JobRecord.failing`, in order."""
        rows = self._rows(
            "jobs",
            f"last_error IS NOT NULL AND last_error != '' AND state {_AMONG}",
            [_array(FAILING_STATES)],
        )
        return [JobRecord.from_row(row) for row in rows]

    def jobs_of_requests(self, request_ids: Iterable[int]) -> list[JobRecord]:
        """The jobs of any of these requests, in order (`jobs(request_id=…)` for many)."""
        return [
            JobRecord.from_row(row) for row in self._rows_among("jobs", "request_id", request_ids)
        ]

    def approved_without_job(self) -> list[RequestRecord]:
        rows = self._rows(
            "requests",
            "state = 'approved' AND NOT EXISTS "
            "(SELECT 1 FROM jobs WHERE jobs.request_id = requests.id)",
        )
        return [RequestRecord.from_row(row) for row in rows]

    def job_counts(self) -> dict[str, int]:
        """Jobs by state (for /metrics)."""
        rows = self.db.execute("SELECT state, count(*) FROM jobs GROUP BY state")
        return {str(key): int(n) for key, n in rows.fetchall()}
