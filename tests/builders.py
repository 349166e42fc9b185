"""Requests as tests write them: the wikitext a requester saves (contract §2), the row the
clerk records in the store, and the SSH key a member adds.

One place for each shape, so a test says only what matters to it (`username=` for a
request on someone's behalf, `state=` for a row) and a change to the template or to
`Store.add_request` is made once.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from membership.records import RequestRecord
from membership.store import Store

PAGE = "Toolserver/Requests"
SIGNATURE = "~~~~"


def request_wikitext(
    type: str = "account",  # noqa: A002 - the template's own field name
    *,
    purpose: str = "Running maintenance scripts.",
    signature: str = SIGNATURE,
    **fields: str,
) -> str:
    """The body of a request section: `{{ATS request}}` with one field a line, aligned
    as the preload writes them, then the signature (`signature=""`: unsigned).

    Fields are written in contract §2's order; `username=` files on someone's behalf; a
    field given as "" is left out.
    """
    order = ("type", "username", "purpose", "tool", "license", "source", "maintainers")
    given = {"type": type, "purpose": purpose, **fields}
    names = [n for n in order if given.get(n)] + [n for n in given if n not in order]
    width = max(len(n) for n in names)
    lines = ["{{ATS request", *(f" | {n.ljust(width)} = {given[n]}" for n in names), "}}"]
    if signature:
        lines.append(signature)
    return "\n".join(lines)


def request_section(heading: str, body: str | None = None, *after: str) -> str:
    """A level-2 section: the heading, the body (`request_wikitext()` unless given) and
    any lines after it (replies, decisions), ending in a newline."""
    text = request_wikitext() if body is None else body
    return "\n".join([f"== {heading} ==", text, *after]) + "\n"


def add_request(store: Store, who: str = "Example", /, **values: Any) -> RequestRecord:
    """A request row as the clerk records it: for `who`, filed by `who` on `PAGE`, state
    `received`; any argument of `Store.add_request` may be given."""
    kind = values.get("type", "account")
    fields = values.get("fields", {"type": kind, "purpose": "bots"})
    if kind == "tool":
        heading = f"Tool request: {fields.get('tool', who)}"
    else:
        heading = f"Account request: {who}"
    row: dict[str, Any] = {
        "page": PAGE,
        "key": f"key-{who}",
        "heading": heading,
        "requester": who,
        "subject": who,
        "type": kind,
        "fields": fields,
        "content_hash": "h",
        "intro_revid": 1,
        "intro_timestamp": "2025-01-01T00:00:00Z",
        "state": "received",
        "detail": {},
    }
    row.update(values)
    return store.add_request(**row)


def ssh_public_key(comment: str = "") -> str:
    """A new Ed25519 public key in OpenSSH's one-line form, with `comment` if given."""
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    line = key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return f"{line.decode()} {comment}" if comment else line.decode()


QUEUE_MEMBER = "Snapshot Member"
QUEUE_TOOL = "queue-tool"  # maintained by QUEUE_MEMBER and "Queue user 0"


def seed_queue(store: Store, count: int, now: datetime) -> None:
    """A queue of `count` requests in every state, filed over the 90 days before `now`,
    a quarter of them decided (some decisions not honoured), a fund with a donation and
    a waiver paid, a finished bot cycle, an account for each request done (a tool's too,
    maintained by its requester; half of them paid), and `QUEUE_MEMBER` with an approved account
    request, a tool request, a key, the terms, a payment, a waiver asked and a failing
    provisioning job. The same store for the same arguments (no randomness), so pages
    built from it can be compared byte for byte; call it with the clock frozen at `now`
    for the rows' own timestamps to repeat too."""
    from membership.health import record_cycle
    from membership.ledger import LedgerEntry
    from membership.states import State

    states = list(State)
    for i in range(count):
        filed = now - timedelta(days=(i * 37 % 90) + 0.25)
        kind = "tool" if i % 5 == 0 else "account"
        record = add_request(
            store,
            f"Queue user {i}",
            key=f"queue-{i}",
            type=kind,
            fields={"type": kind, "purpose": "keeping the queue busy", "tool": f"tool-{i}"},
            content_hash=f"h{i}",
            intro_revid=1000 + i,
            intro_timestamp=filed.isoformat(timespec="seconds"),
            state=states[i % len(states)],
        )
        if record.state == State.DONE:  # a member, with an account (and a tool's)
            owner = f"Queue user {i}"
            store.record_account(f"queueuser{i}", "person", owner, 20_000 + i)
            if kind == "tool":
                store.record_account(f"tool-{i}", "tool", f"tool-{i}", 50_000 + i)
                store.set_tool_maintainers(f"tool-{i}", [owner], "Admin One")
            if i % 2:
                store.record_payment(
                    owner,
                    amount=2000,
                    currency="USD",
                    paid_on=(now - timedelta(days=i % 400)).date().isoformat(),
                    method="bank",
                    reference=f"QUEUE-{i}",
                    recorded_by="Admin One",
                )
        if i % 4 == 0:
            store.add_decision(
                record.id,
                kind="approve" if i % 8 == 0 else "decline",
                params={},
                wikitext="{{ATS approve}}" if i % 8 == 0 else "{{ATS decline}}",
                ordinal=0,
                revid=5000 + i,
                actor="Admin One" if i % 12 else "Vandal",
                honoured=i % 12 != 0,
                reason="" if i % 12 else "not an admin",
            )
    store.record_account(QUEUE_TOOL, "tool", QUEUE_TOOL, 59_999)
    store.set_tool_maintainers(QUEUE_TOOL, ["Queue user 0", QUEUE_MEMBER], "Admin One")
    member = QUEUE_MEMBER
    own = add_request(
        store,
        member,
        key="queue-member",
        intro_timestamp=(now - timedelta(days=12)).isoformat(timespec="seconds"),
        state=State.APPROVED,
    )
    add_request(
        store,
        "Snapshot tool",
        key="queue-member-tool",
        requester=member,
        subject=member,
        type="tool",
        fields={"type": "tool", "purpose": "a bot", "tool": "snapshot-tool", "maintainers": member},
        intro_timestamp=(now - timedelta(days=3)).isoformat(timespec="seconds"),
        state=State.RECEIVED,
    )
    store.record_identity(member, "central-snapshot", 2)
    store.accept_terms(member, "1")
    store.add_ssh_key(
        member,
        type="ssh-ed25519",
        bits=256,
        key="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOeOmYwnmxKFM5bXlsvvXDJrc9KEyk1p7VC3fYYbZbLw",
        fingerprint="SHA256:bJ4NxUZA1kDOVe/SeoOcT2xCGXHoTmDy2DoUo8OVJwE",
        comment="laptop",
    )
    store.record_payment(
        member,
        amount=1500,
        currency="USD",
        paid_on=now.date().isoformat(),
        method="bank",
        reference="SNAP-1",
        recorded_by="Admin One",
    )
    store.request_waiver(member, "between jobs")
    job, _ = store.enqueue_job(own.id, "create_account", {"username": member}, now)
    store.lease_job("snapshot-worker", now)
    store.fail_job(job.id, "snapshot-worker", "ldap: server down", now, retry=False)
    donation = LedgerEntry(kind="transfer", amount=1_000, currency="USD", on=now.date())
    store.add_ledger_entry(donation)
    record_cycle(store, now - timedelta(minutes=2))
