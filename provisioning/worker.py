"""The provisioning worker: turns approved requests into accounts, through jobs.

`enqueue_approved` gives every `approved` request without a job one job (idempotent:
one per request and kind). `run_once` leases the next due job, moves the request to
`provisioning`, asks the backend to make the account — every backend operation
converges when repeated, so a job taken again after a crash (its lease ran out)
finishes the work instead of duplicating it — and marks the job done and the
request `done`. A failure moves the request to `failed` with the error (the bot says
so on-wiki, admins see it in the store); a transient one is retried with exponential
back-off, a permanent one (a name that cannot be made or is taken) waits for an
admin, who gives a name and calls `Store.requeue_job`. Every step is in the audit
log. `hook(stage)` lets a test stop the worker at a chosen point.

Jobs about a member's existing account (`membership.accounts`: request_id NULL,
`member` set) take the same queue, leases and back-off, and all do one thing: read
what the store says now (`provisioning.desired`: the active keys, suspended or not)
and `converge` the account to it, so a job never applies a change overtaken by a
later one; the kind ("keys", "suspend", "restore") only names why it was queued. The
member's tools are converged too, so a suspended maintainer leaves their groups
(and their `become` ends with their login) and a restored one is back in them.
`provision_tool` is `ats provision tool`. Jobs
for one member never run at once (the store's member leases: a second worker passes
over a member whose job is running). A failure is audited as `<kind>-failed` and
shown to the admins, and no request changes state.

Leases follow the worker: a job is leased for `lease_seconds` (60 by default) and a
heartbeat thread renews the lease while the job runs, so a long job keeps its lease
and a killed worker's job is free again within one lease. A backend that cannot reach
its directory (`unavailable` errors) does not spend the job's attempts: the job waits
`outage_delay` seconds and runs again, so a worker outlives an outage of any length
and converges once the directory is back. `run_forever` prints one line per job.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from membership.gates import tool_maintainers
from membership.states import State
from membership.store import JobRecord, RequestRecord, Store
from policies.eligibility import canonical_username
from policies.requests import RESERVED_NAMES, TOOL_NAME
from policies.times import iso
from policies.usernames import valid_username
from provisioning.backend import (
    Account,
    Backend,
    NameTakenError,
    NoSuchAccountError,
    ProvisioningError,
)
from provisioning.desired import for_owner, tools_of
from provisioning.names import NamingError, shell_name
from provisioning.reconcile import reconcile

ACTOR = "provisioning"
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
        job, created = store.enqueue_job(record.id, kind, _payload(record), now)
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
    if job.request_id is None:
        return _run_member_job(store, backend, job, worker, now, max_attempts, outage_delay, hook)
    with store.transaction():
        record = store.request_by_id(job.request_id)
        if record is not None and record.state in (State.APPROVED, State.FAILED):
            store.update_request(record.id, state=str(State.PROVISIONING))
            store.audit(ACTOR, "provisioning-started", record.id, job=job.id, attempt=job.attempts)
    hook("leased")
    try:
        account = _provision(store, backend, job)
    except Exception as error:  # any backend failure is recorded and retried, never fatal
        return _failed(store, job, worker, now, error, max_attempts, outage_delay)
    hook("provisioned")
    with store.transaction():
        owner = account.owner if account.kind == "person" else account.name
        store.record_account(account.name, account.kind, owner, account.uid)
        store.finish_job(job.id, worker, now)
        record = store.request_by_id(job.request_id)
        detail = {k: v for k, v in (record.detail if record else {}).items()}
        detail.pop("provisioning_error", None)
        detail["account"] = account.login
        store.update_request(
            job.request_id, state=str(State.DONE), progress_at=iso(now), detail=detail
        )
        store.audit(
            ACTOR,
            "provisioning-done",
            job.request_id,
            job=job.id,
            kind=account.kind,
            shell_name=account.login,
            uid=account.uid,
        )
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
    **options: Any,
) -> None:
    """Queue and run jobs until `stop` is set, waiting `poll` seconds when idle; one
    line per job to `log` (standard output by default). A job in hand when `stop` is
    set runs to its end first. Every `reconcile_seconds`
    (0: never), from the start, the whole directory is reconciled with the store and
    repaired, one line per drift."""
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
    if job.request_id is None:
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


def provision_person(
    store: Store, backend: Backend, wiki_user: str, keys: list[str], name: str | None = None
) -> Account:
    """Create (or converge) one person's account directly — `ats provision account`.

    `wiki_user` is typed by hand: a name MediaWiki could not have raises UsernameError.
    """
    wiki_user = valid_username(wiki_user)
    account = backend.create_person(wiki_user, name or shell_name(wiki_user), keys)
    store.record_account(account.name, "person", wiki_user, account.uid)
    store.audit(ACTOR, "account-converged", None, shell_name=account.name, wiki_user=wiki_user)
    return account


def provision_tool(
    store: Store, backend: Backend, tool: str, wiki_users: list[str], by: str
) -> Account:
    """Create (or converge) a tool directly — `ats provision tool`: the same naming
    rules as a tool request; every maintainer must hold a shell account. The
    maintainers are kept in the store (they replace those of the tool's request)."""
    name = tool.strip()
    if not TOOL_NAME.match(name):
        raise NamingError(
            f"{name!r} is not a tool name: lower-case letters, digits and '-', starting "
            "with a letter and not ending with '-', at most 32 characters"
        )
    if name in RESERVED_NAMES:
        raise NamingError(f"{name!r} is reserved; choose another tool name")
    if not wiki_users:
        raise NamingError("a tool needs at least one maintainer (--maintainer USER)")
    people = sorted({canonical_username(valid_username(u)) for u in wiki_users})
    held = {}
    for wiki_user in people:
        record = store.account_of(wiki_user)
        if record is None:
            raise NoSuchAccountError(
                f"the maintainer {wiki_user!r} has no shell account; make theirs first "
                "(ats provision account) or leave them out"
            )
        held[wiki_user] = record
    # The store keys accounts by shell name: a tool cannot share a member's.
    taken = [r for r in store.accounts("person") if r.shell_name == name]
    if taken:
        raise NameTakenError(
            f"the name {name!r} is the shell account of {taken[0].owner!r}; "
            "choose another tool name"
        )
    members = [r.shell_name for r in held.values() if not r.suspended]
    account = backend.create_tool(name, members)
    with store.transaction():
        store.set_tool_maintainers(name, people, by)
        store.record_account(name, "tool", name, account.uid)
        store.audit(
            ACTOR, "tool-converged", None, shell_name=account.login, maintainers=people, by=by
        )
    return account


MEMBER_ACTIONS = {"keys": "keys-set", "suspend": "account-suspended", "restore": "account-restored"}


def _run_member_job(
    store: Store,
    backend: Backend,
    job: JobRecord,
    worker: str,
    now: datetime,
    max_attempts: int,
    outage_delay: int,
    hook: Hook,
) -> Outcome:
    """A job about a member's existing account: keys | suspend | restore, all of
    which converge the account to what the store says now."""
    hook("leased")
    member = job.member or ""
    try:
        if job.kind not in MEMBER_ACTIONS:
            raise UnknownJobError(f"no such job kind {job.kind!r}")
        wanted = for_owner(store, member)
        if wanted is None:
            raise NoSuchAccountError(f"{member!r} has no shell account")
        name = wanted.record.shell_name
        hook("read")
        backend.converge(name, wanted.desired)
        # A suspended member leaves their tools' groups (their `become` ends with their
        # login) and is back in them when restored.
        for tool in tools_of(store, member):
            # A tool missing from the directory is the reconcile's to report.
            with contextlib.suppress(NoSuchAccountError):
                backend.converge(tool.record.shell_name, tool.desired)
        evidence: dict[str, Any] = {
            "keys": len(wanted.desired.keys),
            "suspended": wanted.desired.suspended,
        }
        if job.kind == "suspend":
            evidence["reason"] = job.payload.get("reason", "")
    except Exception as error:  # recorded and retried like a provisioning failure
        return _failed(store, job, worker, now, error, max_attempts, outage_delay)
    hook("provisioned")
    with store.transaction():
        store.finish_job(job.id, worker, now)  # False: asked again meanwhile, so it runs again
        store.audit(
            ACTOR,
            MEMBER_ACTIONS[job.kind],
            None,
            job=job.id,
            member=member,
            shell_name=name,
            **evidence,
        )
    hook("finished")
    finished = store.job(job.id)
    assert finished is not None
    return Outcome(finished, True)


class UnknownJobError(ProvisioningError):
    permanent = True


def _payload(record: RequestRecord) -> dict[str, Any]:
    subject = canonical_username(record.subject or record.requester)
    if record.type == "tool":
        people = tool_maintainers(record)
        return {"tool": record.fields.get("tool", "").strip(), "maintainers": list(people)}
    return {"wiki_user": subject}


def _provision(store: Store, backend: Backend, job: JobRecord) -> Account:
    payload = job.payload
    if job.kind == "tool":
        names = []
        for member in payload.get("maintainers", []):
            held = store.account_of(member)
            if held is None:
                raise ProvisioningError(
                    f"the maintainer {member!r} has no shell account yet; the tool is made "
                    "once every maintainer has one"
                )
            if not held.suspended:  # suspended since the approval: not in the group
                names.append(held.shell_name)
        return backend.create_tool(payload["tool"], names)
    wiki_user = payload["wiki_user"]
    held = store.account_of(wiki_user)
    name = payload.get("shell_name") or (held.shell_name if held else shell_name(wiki_user))
    keys = [k.key for k in store.ssh_keys(wiki_user)]
    return backend.create_person(wiki_user, name, keys)


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
