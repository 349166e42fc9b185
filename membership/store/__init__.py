"""The store: the SQLite database that is the source of truth for every request.

The bot, the bridge and the provisioning worker share it from separate processes
(WAL mode, a busy timeout, `BEGIN IMMEDIATE` transactions: `connection.py`). Its
schema is built by named migrations (`schema.py`); the audit log and the fee ledger
are append-only, enforced by triggers, and every payment is mirrored into the ledger
by a trigger. Unique indexes keep money counted once (membership/obligations.py).

Each area of the store is a room of its own, a module that imports no other room:
requests and pages (`requests.py`), the replies outbox and decisions (`replies.py`),
the audit log (`audit.py`), what the bot remembers of the wiki (`provenance.py`),
members (`members.py`), sessions and login attempts (`sessions.py`), payments, the
ledger and fund actions (`money.py`), waivers (`waivers.py`), provisioning jobs
(`jobs.py`), shell accounts and tools' maintainers (`accounts.py`), renewal reminders
and their claims (`reminders.py`), suspensions (`suspensions.py`), the clerk's lease on
a page (`leases.py`), members' standing (`standing.py`), retention (`retention.py`),
tools' jobs (`tool_jobs.py`), the mails about them (`tool_job_mails.py`) and what the
databases service measured of the tool databases (`database_usage.py`). import-linter
keeps the rooms independent of one another.
Rows come back as the dataclasses of `membership/records.py`. `Store` gathers the rooms behind
one connection, so a caller opens one `Store` and uses any of them; a transaction
(`with store.transaction():`) spans rooms. `ChangeWatch` (`changes.py`) tells a process
whether anything in the store changed since it last looked.
"""

from __future__ import annotations

from membership.store.accounts import AccountsRoom
from membership.store.audit import AuditRoom
from membership.store.changes import ChangeWatch
from membership.store.connection import Query, StoreConnection
from membership.store.database_usage import DatabaseUsageRoom
from membership.store.jobs import JobsRoom
from membership.store.leases import LeasesRoom
from membership.store.members import MembersRoom
from membership.store.money import MoneyRoom
from membership.store.provenance import ProvenanceRoom
from membership.store.reminders import RemindersRoom
from membership.store.replies import RepliesRoom
from membership.store.requests import RequestsRoom
from membership.store.retention import RetentionRoom
from membership.store.schema import MIGRATIONS, migrations
from membership.store.sessions import SessionsRoom
from membership.store.standing import StandingRoom
from membership.store.suspensions import SuspensionsRoom
from membership.store.tool_job_mails import ToolJobMailsRoom
from membership.store.tool_jobs import ToolJobsRoom
from membership.store.waivers import WaiversRoom
from membership.storefaults import NewerStoreError, StoreBusy, StoreError
from policies.times import iso


class Store(
    RequestsRoom,
    RepliesRoom,
    AuditRoom,
    ProvenanceRoom,
    MembersRoom,
    SessionsRoom,
    MoneyRoom,
    WaiversRoom,
    JobsRoom,
    LeasesRoom,
    AccountsRoom,
    RemindersRoom,
    SuspensionsRoom,
    RetentionRoom,
    StandingRoom,
    ToolJobsRoom,
    ToolJobMailsRoom,
    DatabaseUsageRoom,
    StoreConnection,
):
    """One connection to the shared database, with every room's methods."""


def now_iso() -> str:
    """Now, as the store writes a moment."""
    return iso()


__all__ = [
    "MIGRATIONS",
    "ChangeWatch",
    "NewerStoreError",
    "Query",
    "Store",
    "StoreBusy",
    "StoreError",
    "migrations",
    "now_iso",
]
