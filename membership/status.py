"""The public picture of the queue: what anyone may see, computed from the store.

`public_status` lists the open requests with only what the wiki page already shows
(heading, account, type, state, days waiting) and the median time from filing to an
honoured approve or decline. It costs two queries however long the queue: the listed
columns of the requests, and each request's first decision. No private fact
(identification method, waiver reason, payments, keys) is read here, so none can leak
into the public page or its JSON.
`public_fund` gives the waiver fund's balance and how many waivers it has paid: a count
and a sum of the fund's history, never who, why or any one amount.
"""

from __future__ import annotations

from datetime import datetime
from statistics import median
from typing import Any

from membership.ledger import fund_balance
from membership.states import CLOSED
from membership.store import Store
from policies.fees import FeePolicy
from policies.money import format_minor

DECIDING = ("approve", "decline")


def public_status(store: Store, now: datetime) -> dict[str, Any]:
    open_requests: list[dict[str, Any]] = []
    waits: list[float] = []
    decided = store.first_decided(DECIDING)
    for record in store.request_summaries():
        filed = datetime.fromisoformat(record.intro_timestamp or record.created_at)
        if record.id in decided:
            wait = datetime.fromisoformat(decided[record.id]) - filed
            waits.append(wait.total_seconds() / 86400)
        if record.state in CLOSED:
            continue
        open_requests.append(
            {
                "heading": record.heading,
                "username": record.subject,
                "type": record.type,
                "state": record.state,
                "filed": filed.date().isoformat(),
                "days_waiting": max(0, (now - filed).days),
            }
        )
    by_state: dict[str, int] = {}
    for item in open_requests:
        state = str(item["state"])
        by_state[state] = by_state.get(state, 0) + 1
    return {
        "generated_at": now.isoformat(timespec="seconds"),
        "open": open_requests,
        "open_count": len(open_requests),
        "by_state": by_state,
        "decided_count": len(waits),
        "median_days_to_decision": round(median(waits), 1) if waits else None,
    }


def public_fund(store: Store, policy: FeePolicy) -> dict[str, Any]:
    """The waiver fund as anyone may see it: its balance and the number of waivers paid."""
    entries = [e for e in store.ledger_entries() if e.currency == policy.currency]
    balance = fund_balance(entries)
    return {
        "currency": policy.currency,
        "balance": format_minor(balance, policy.currency),
        "balance_minor": balance,
        "waivers_paid": sum(1 for e in entries if e.kind == "waiver"),
    }
