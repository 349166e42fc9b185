"""What each kind of provisioning job does, once the worker has leased it.

A request's job ("person" or "tool", `request_payload` says whom for) moves the request
to `provisioning` (`start_request`), asks the backend to make the account
(`provision_request`: every backend operation converges when repeated, so a job taken
again after a crash finishes the work instead of duplicating it) and, once made, records
the account and marks the job done and the request `done` (`finish_request`).

A job about a member's existing account (`membership.accounts`: request_id NULL,
`member` set) reads what the store says now (`provisioning.desired`: the active keys,
suspended or not) and converges the account to it (`converge_member`), so a job never
applies a change overtaken by a later one; the kind ("keys", "suspend", "restore") only
names why it was queued, and `finish_member` audits it under `MEMBER_ACTIONS`. A
tool's "maintainers" job (its `member` is the tool's service user) converges the
tool's group to its maintainers (`converge_tool`). The
member's tools are converged too, so a suspended maintainer leaves their groups (and
their `become` ends with their login) and a restored one is back in them.

The doing raises on failure; the worker (`provisioning.worker`) records failures,
retries and outages the same way for every kind.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from membership.gates import tool_maintainers
from membership.maintainers import JOB_KIND, tool_of_job
from membership.records import JobRecord, RequestRecord
from membership.states import State
from membership.store import Store
from policies.times import iso
from policies.usernames import canonical_username
from provisioning.backend import Account, Backend, NoSuchAccountError, ProvisioningError
from provisioning.desired import for_owner, tools_of
from provisioning.names import shell_name

ACTOR = "provisioning"  # who the audit log says did the work
MEMBER_ACTIONS = {
    "keys": "keys-set",
    "suspend": "account-suspended",
    "restore": "account-restored",
    JOB_KIND: "tool-maintainers-set",
}


class UnknownJobError(ProvisioningError):
    permanent = True


@dataclass(frozen=True)
class MemberConverged:
    """What a member job did: the member's shell account and the audit's evidence."""

    shell_name: str
    evidence: dict[str, Any]


def request_payload(record: RequestRecord) -> dict[str, Any]:
    """The payload of an approved request's job: the tool and its maintainers, or the person."""
    subject = canonical_username(record.subject or record.requester)
    if record.type == "tool":
        people = tool_maintainers(record)
        return {"tool": record.fields.get("tool", "").strip(), "maintainers": list(people)}
    return {"wiki_user": subject}


def start_request(store: Store, job: JobRecord) -> None:
    """Move the job's request to `provisioning` (from `approved`, or `failed` on a retry)."""
    assert job.request_id is not None
    with store.transaction():
        record = store.request_by_id(job.request_id)
        if record is not None and record.state in (State.APPROVED, State.FAILED):
            store.update_request(record.id, state=str(State.PROVISIONING))
            store.audit(ACTOR, "provisioning-started", record.id, job=job.id, attempt=job.attempts)


def provision_request(store: Store, backend: Backend, job: JobRecord) -> Account:
    """Make (or converge) the account a request's job asks for."""
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


def finish_request(
    store: Store, job: JobRecord, worker: str, now: datetime, account: Account
) -> None:
    """Record the account made, and mark the job done and its request `done`."""
    assert job.request_id is not None
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


def converge_member(
    store: Store, backend: Backend, job: JobRecord, hook: Callable[[str], None]
) -> MemberConverged:
    """A job about a member's existing account: keys | suspend | restore, all of
    which converge the account (and the member's tools) to what the store says now."""
    member = job.member or ""
    if job.kind not in MEMBER_ACTIONS:
        raise UnknownJobError(f"no such job kind {job.kind!r}")
    if job.kind == JOB_KIND:
        return converge_tool(store, backend, tool_of_job(member) or member, hook)
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
    return MemberConverged(name, evidence)


def converge_tool(
    store: Store, backend: Backend, tool: str, hook: Callable[[str], None]
) -> MemberConverged:
    """A tool's maintainers changed (`membership.maintainers`): its group (and so its
    `become`) is brought to the maintainers the store holds now."""
    wanted = for_owner(store, tool, "tool")
    if wanted is None:
        raise NoSuchAccountError(f"the tool {tool!r} has no account")
    hook("read")
    backend.converge(tool, wanted.desired)
    return MemberConverged(tool, {"tool": tool, "members": list(wanted.desired.members)})


def finish_member(
    store: Store, job: JobRecord, worker: str, now: datetime, done: MemberConverged
) -> None:
    """Mark a member job done and audit what it did."""
    with store.transaction():
        store.finish_job(job.id, worker, now)  # False: asked again meanwhile, so it runs again
        store.audit(
            ACTOR,
            MEMBER_ACTIONS[job.kind],
            None,
            job=job.id,
            member=job.member or "",
            shell_name=done.shell_name,
            **done.evidence,
        )
