"""Moving requests forward when the bridge records a fact: the store side of the gates.

`facts_for` reads from the store what is known about a request's subject and returns
the pure `gates.Facts`; `advance` re-evaluates every open request of one member after
the bridge recorded something (a login, accepted terms, a key, a payment, a waiver,
an identification) — and the open tool requests naming them as a maintainer, whose
gate reads each maintainer's account (`maintainer_facts`) — and writes the new state
and gate summary, with an audit entry per change. The bot notices the state change
and says it on-wiki; nothing here writes wikitext. The audit evidence holds gate
names and states only, never a private fact.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from membership import gates
from membership.ledger import net_payments
from membership.records import RequestRecord
from membership.states import CLOSED
from membership.store import Store
from policies.fees import FeePolicy, fee_settled
from policies.times import iso
from policies.usernames import canonical_username


def facts_for(
    store: Store, record: RequestRecord, terms_version: str, fees: FeePolicy, today: date
) -> gates.Facts:
    subject = canonical_username(record.subject or record.requester)
    # Net of refunds: the ledger mirrors every payment and holds the refunds.
    payments = net_payments(store.ledger_entries(member=subject), subject)
    waived = any(w.status == "granted" for w in store.waivers(subject))
    return gates.Facts(
        identity=store.identity(subject) is not None,
        terms=store.terms_accepted(subject, terms_version) is not None,
        ssh_key=bool(store.ssh_keys(subject)),
        identified=bool(store.identifications(subject)),
        fee=waived or fee_settled(fees, payments, today),
        eligible=gates.eligible(record),
        maintainers=maintainer_facts(store, record),
    )


def maintainer_facts(store: Store, record: RequestRecord) -> tuple[gates.Maintainer, ...]:
    """For a tool request, what the store knows of each maintainer's standing."""
    if record.type != "tool":
        return ()
    found = []
    for name in gates.tool_maintainers(record):
        account = store.account_of(name)
        found.append(
            gates.Maintainer(
                name, account=account is not None, suspended=bool(account and account.suspended)
            )
        )
    return tuple(found)


def report_for(
    store: Store, record: RequestRecord, terms_version: str, fees: FeePolicy
) -> gates.GateReport:
    today = datetime.now(UTC).date()
    return gates.evaluate(record, facts_for(store, record, terms_version, fees, today))


def requests_of(store: Store, username: str) -> list[RequestRecord]:
    """The requests whose subject is `username` (the account they are for), newest first."""
    wanted = canonical_username(username)
    found = [r for r in store.requests() if canonical_username(r.subject or "") == wanted]
    return sorted(found, key=lambda r: r.id, reverse=True)


def _affected(store: Store, username: str) -> list[RequestRecord]:
    """`username`'s requests, and the open tool requests naming them as a maintainer."""
    own = requests_of(store, username)
    wanted = canonical_username(username)
    seen = {r.id for r in own}
    tools = [
        r
        for r in store.requests()
        if r.type == "tool"
        and r.id not in seen
        and r.state not in CLOSED
        and wanted in gates.tool_maintainers(r)
    ]
    return own + tools


def advance(
    store: Store, username: str, actor: str, *, terms_version: str, fees: FeePolicy
) -> list[RequestRecord]:
    """Re-evaluate `username`'s open requests; return those whose state changed."""
    changed = []
    with store.transaction():
        for record in _affected(store, username):
            if record.state in CLOSED:
                continue
            report = report_for(store, record, terms_version, fees)
            summary = json.dumps(report.summary(), sort_keys=True)
            if report.state == record.state and summary == (record.gates or ""):
                continue
            values: dict[str, object] = {"gates": summary, "progress_at": iso()}
            if report.state != record.state:
                values["state"] = str(report.state)
                store.audit(
                    actor,
                    "gates-state",
                    record.id,
                    before=record.state,
                    after=str(report.state),
                    pending=[g.name for g in report.pending],
                )
                changed.append(store.update_request(record.id, **values))
            else:
                store.update_request(record.id, **values)
    return changed
