"""The tool databases' sizes, measured and recorded in the store by the databases service
(`ats databases serve`, every `[databases] sizes_interval` seconds), and the notices
of an account that went over the limit.

`measure` asks the server for every database's size (`Server.sizes`, one query of
`information_schema`: cheap, but not free, hence not at every pass), then, in one
transaction of the store, reads what was recorded before, decides with `usage.assess`,
replaces the record, and for each account that crossed the limit writes an audit entry
(`database-over-limit`, which the admins' desk and `/metrics` read as well as the record)
and calls `notice` (the composition root's: the mail to the maintainers, queued in the
outbox). So a measurement and its notices are recorded together or not at all: a
service killed at any moment neither loses a notice nor tells one twice. An account that
is back under the limit gets an audit entry (`database-under-limit`) and no mail.
Readers (the jobs service, the bridge) read the store, never the server.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from databases.desired import Wanted
from databases.usage import MB, assess, label, megabytes
from membership.records import DatabaseUsage
from policies.times import iso

log = logging.getLogger(__name__)

ACTOR = "databases"  # who the audit log says wrote the entries
OVER, UNDER = "database-over-limit", "database-under-limit"

# Called inside the measurement's transaction with the store and an account that has
# just gone over the limit; whatever it writes in the store is part of the transaction.
Notice = Callable[[Any, DatabaseUsage], None]


class Sizes(Protocol):
    """What a measurement asks of the server (`databases.server.Server`)."""

    def sizes(self) -> dict[str, dict[str, int]]: ...


@dataclass
class Measured:
    """What a measurement found, for the service's log: one line per change."""

    accounts: int = 0
    lines: list[str] = field(default_factory=list)


def due(store: Any, every: float, now: datetime | None = None) -> bool:
    """Whether the last measurement recorded is `every` seconds old or more (or none is)."""
    last = store.database_usage_measured_at()
    moment = now or datetime.now(UTC)
    return last is None or moment - datetime.fromisoformat(last) >= timedelta(seconds=every)


def measure(
    store: Any,
    server: Sizes,
    accounts: Sequence[Wanted],
    limit_mb: int,
    notice: Notice | None = None,
    now: datetime | None = None,
) -> Measured:
    """Measure every account's databases and record them (see the module docstring)."""
    sizes = server.sizes()
    limit = limit_mb * MB
    done = Measured(len(accounts))
    with store.transaction():
        before = {usage.user: usage for usage in store.database_usage()}
        found = assess(accounts, sizes, before, limit, iso(now))
        store.record_database_usage(found.usage)
        for usage in found.crossed:
            store.audit(ACTOR, OVER, **_evidence(usage))
            if notice is not None:
                notice(store, usage)
            done.lines.append(
                f"{label(usage)}: its databases hold {megabytes(usage.total)}, over the "
                f"limit of {megabytes(limit)}: its holders and the admins are told"
            )
        for usage in found.back_under:
            store.audit(ACTOR, UNDER, **_evidence(usage))
            done.lines.append(
                f"{label(usage)}: its databases hold {megabytes(usage.total)}, under the "
                "limit again"
            )
    return done


def _evidence(usage: DatabaseUsage) -> dict[str, Any]:
    evidence: dict[str, Any] = {"user": usage.user, "account": usage.name, "kind": usage.kind}
    if usage.kind == "person":
        evidence["subject"] = usage.owner  # on the member's page of the admins' desk
    return evidence | {"total": usage.total, "limit": usage.limit}
