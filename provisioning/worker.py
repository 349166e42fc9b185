"""The provisioning worker: the job queue's loop, its leases and its failures.

`enqueue_approved` gives every `approved` request without a job one job (idempotent:
one per request and kind). `run_once` leases the next due job and runs it as its kind
says (`provisioning.job_kinds`: a request's account made, or a member's account
converged to what the store says now); on success the job is done, and a failure moves
the request to `failed` with the error (the bot says so on-wiki, admins see it in the
store); a transient one is retried with exponential back-off, a permanent one (a name
that cannot be made or is taken) waits for an admin, who gives a name and calls
`Store.requeue_job`. A member job's failure is audited as `<kind>-failed` and shown
to the admins, and no request changes state. Jobs for one member never run at once
(the store's member leases: a second worker passes over a member whose job is
running). Every step is in the audit log. `hook(stage)` lets a test stop the worker
at a chosen point.

Leases follow the worker: a job is leased for `lease_seconds` (60 by default) and a
heartbeat thread renews the lease while the job runs, so a long job keeps its lease
and a killed worker's job is free again within one lease. A backend that cannot reach
its directory (`unavailable` errors) does not spend the job's attempts: the job waits
`outage_delay` seconds and runs again, so a worker outlives an outage of any length
and converges once the directory is back. `run_forever` prints one line per job.
Accounts made by hand (`ats provision account|tool`) are `provisioning.direct`'s;
their functions are importable from here too.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from membership.maintainers import JOB_KIND as MAINTAINERS
from membership.records import JobRecord
from membership.states import State
from membership.store import Store
from provisioning.backend import Account, Backend
from provisioning.direct import provision_person, provision_tool
from provisioning.job_kinds import (
    ACTOR,
    MEMBER_ACTIONS,
    UnknownJobError,
    converge_member,
    finish_member,
    finish_request,
    provision_request,
    request_payload,
    start_request,
)
from provisioning.names import NamingError
from provisioning.reconcile import reconcile

__all__ = [
    "ACTOR",
    "LEASE_SECONDS",
    "MAX_ATTEMPTS",
    "MEMBER_ACTIONS",
    "OUTAGE_DELAY",
    "Hook",
    "Outcome",
    "Stop",
    "UnknownJobError",
    "enqueue_approved",
    "outcome_line",
    "provision_person",
    "provision_tool",
    "run_forever",
    "run_once",
    "worker_id",
]

MAX_ATTEMPTS = 8
LEASE_SECONDS = 60
OUTAGE_DELAY = 30
Hook = Callable[[str], None]


class Stop(Protocol):
    """What tells `run_forever` to stop: a `threading.Event`, or a signal's flag."""

    def is_set(self) -> bool: ...

    def wait(self, timeout: float) -> bool: ...


@dataclass(frozen=True)
class Outcome:
    job: JobRecord
    ok: bool
    account: Account | None = None
    error: str = ""
    retry: bool = False
    seconds: float = 0.0  # how long the job ran
    deferred: bool = False  # the directory was unreachable: no attempt spent


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def enqueue_approved(store: Store, now: datetime | None = None) -> list[JobRecord]:
    """Queue a job (due `now`) for every approved request that has none; the new jobs."""
    queued = []
    for record in store.approved_without_job():
        kind = "tool" if record.type == "tool" else "person"
        job, created = store.enqueue_job(record.id, kind, request_payload(record), now)
        if created:
            store.audit(ACTOR, "provisioning-queued", record.id, job=job.id, kind=kind)
            queued.append(job)
    return queued


def run_once(
    store: Store,
    backend: Backend,
    now: datetime | None = None,
    *,
    worker: str | None = None,
    lease_seconds: int = LEASE_SECONDS,
    max_attempts: int = MAX_ATTEMPTS,
    outage_delay: int = OUTAGE_DELAY,
    hook: Hook | None = None,
) -> Outcome | None:
    """Run the next due job, its lease renewed while it runs; None when there is none."""
    now = now or datetime.now(UTC)
    worker = worker or worker_id()
    hook = hook or (lambda stage: None)
    job = store.lease_job(worker, now, lease_seconds=lease_seconds)
    if job is None:
        return None
    started = time.monotonic()
    try:
        with _Heartbeat(store, job, worker, now, lease_seconds):
            outcome = _run_leased(
                store, backend, job, worker, now, max_attempts, outage_delay, hook
            )
    finally:
        if job.member is not None:
            store.release_member(job.member, worker)
    return replace(outcome, seconds=time.monotonic() - started)


class _Heartbeat:
    """Renews a running job's lease (and its member's) every third of its length from a
    thread of its own (with its own store connection), until the job ends or the lease
    is lost."""

    def __init__(
        self, store: Store, job: JobRecord, worker: str, now: datetime, lease_seconds: int
    ) -> None:
        self.args = (store.path, job.id, worker, now, lease_seconds)
        self.member = job.member
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._beat, name=f"lease-{job.id}", daemon=True)

    def __enter__(self) -> _Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()

    def _beat(self) -> None:
        path, job_id, worker, now, lease_seconds = self.args
        started = time.monotonic()
        store: Store | None = None
        try:
            while not self.stop.wait(max(1.0, lease_seconds / 3)):
                store = store or Store(path)
                # The clock the job was leased by (a test may give one), moved on.
                moment = now + timedelta(seconds=time.monotonic() - started)
                held = store.renew_lease(job_id, worker, moment, lease_seconds=lease_seconds)
                # A job queued again while it runs is no longer this run's, but the
                # member still is: the next run of the job waits for this one to end.
                if self.member is not None:
                    held = (
                        store.renew_member_lease(
                            self.member, worker, moment, lease_seconds=lease_seconds
                        )
                        or held
                    )
                if not held:
                    return
        except Exception as error:  # a busy store: the job goes on, its lease may lapse
            print(f"job {job_id}: could not renew its lease: {error}", flush=True)
        finally:
            if store is not None:
                store.close()


def _run_leased(
    store: Store,
    backend: Backend,
    job: JobRecord,
    worker: str,
    now: datetime,
    max_attempts: int,
    outage_delay: int,
    hook: Hook,
) -> Outcome:
    account: Account | None = None
    if job.request_id is None:
        hook("leased")
        try:
            done = converge_member(store, backend, job, hook)
        except Exception as error:  # recorded and retried like a provisioning failure
            return _failed(store, job, worker, now, error, max_attempts, outage_delay)
        hook("provisioned")
        finish_member(store, job, worker, now, done)
    else:
        start_request(store, job)
        hook("leased")
        try:
            account = provision_request(store, backend, job)
        except Exception as error:  # any backend failure is recorded and retried, never fatal
            return _failed(store, job, worker, now, error, max_attempts, outage_delay)
        hook("provisioned")
        finish_request(store, job, worker, now, account)
    hook("finished")
    finished = store.job(job.id)
    assert finished is not None
    return Outcome(finished, True, account)


def run_forever(
    store: Store,
    backend: Backend,
    *,
    poll: float = 5,
    stop: Stop | None = None,
    log: Callable[[str], None] | None = None,
    reconcile_seconds: float = 0,
    after: Callable[[Outcome], None] | None = None,
    **options: Any,
) -> None:
    """Queue and run jobs until `stop` is set, waiting `poll` seconds when idle; one
    line per job to `log` (standard output by default). A job in hand when `stop` is
    set runs to its end first. Every `reconcile_seconds`
    (0: never), from the start, the whole directory is reconciled with the store and
    repaired, one line per drift. `after` is told each job's outcome."""
    stop = stop or threading.Event()
    log = log or (lambda line: print(line, flush=True))
    next_reconcile = time.monotonic()
    while not stop.is_set():
        if reconcile_seconds and time.monotonic() >= next_reconcile:
            next_reconcile = time.monotonic() + reconcile_seconds
            _reconcile(store, backend, log)
        enqueue_approved(store)
        outcome = run_once(store, backend, **options)
        if outcome is None:
            stop.wait(poll)
        else:
            log(outcome_line(outcome))
            if after is not None:
                after(outcome)


def _reconcile(store: Store, backend: Backend, log: Callable[[str], None]) -> None:
    try:
        drifts = reconcile(store, backend, fix=True, log=lambda line: log(f"reconcile: {line}"))
    except Exception as error:  # an outage, say: the jobs go on, the next round tries again
        log(f"reconcile: not run: {error}")
        return
    if drifts:
        fixed = sum(d.fixed for d in drifts)
        log(f"reconcile: {len(drifts)} drift(s), {fixed} fixed")


def outcome_line(outcome: Outcome) -> str:
    """One line about a finished run of a job: what, for whom, the result, how long."""
    job = outcome.job
    if job.kind == MAINTAINERS:
        whom = f"tool {job.payload.get('tool', job.member)}"
    elif job.request_id is None:
        whom = f"member {job.member}"
    else:
        subject = job.payload.get("wiki_user") or job.payload.get("tool") or "?"
        whom = f"request {job.request_id} ({subject})"
    if outcome.ok:
        result = "done"
    elif outcome.deferred:
        result = f"waiting for the directory: {outcome.error}"
    elif outcome.retry:
        result = f"will retry (attempt {job.attempts}): {outcome.error}"
    else:
        result = f"failed: {outcome.error}"
    return f"job {job.id} {job.kind} for {whom}: {result} in {outcome.seconds:.2f} s"


def _failed(
    store: Store,
    job: JobRecord,
    worker: str,
    now: datetime,
    error: BaseException,
    max_attempts: int,
    outage_delay: int = OUTAGE_DELAY,
) -> Outcome:
    message = str(error) or type(error).__name__
    if getattr(error, "unavailable", False):
        # An outage is no fault of the job: it waits for the directory without
        # spending an attempt, however long the outage lasts.
        with store.transaction():
            deferred = store.defer_job(job.id, worker, message, now, delay=outage_delay)
            store.audit(
                ACTOR,
                "provisioning-deferred",
                job.request_id,
                job=job.id,
                member=job.member,
                error=message,
                next_attempt_at=deferred.next_attempt_at if deferred else None,
            )
        return Outcome(deferred or job, False, error=message, retry=True, deferred=True)
    permanent = isinstance(error, NamingError) or getattr(error, "permanent", False)
    retry = not permanent and job.attempts < max_attempts
    with store.transaction():
        failed = store.fail_job(job.id, worker, message, now, retry=retry)
        if job.request_id is not None:
            record = store.request_by_id(job.request_id)
            detail = {**(record.detail if record else {}), "provisioning_error": message}
            store.update_request(job.request_id, state=str(State.FAILED), detail=detail)
        store.audit(
            ACTOR,
            "provisioning-failed" if job.request_id is not None else f"{job.kind}-failed",
            job.request_id,
            job=job.id,
            member=job.member,
            attempt=job.attempts,
            error=message,
            retry=retry,
            next_attempt_at=failed.next_attempt_at if failed and retry else None,
        )
    return Outcome(failed or job, False, error=message, retry=retry)
