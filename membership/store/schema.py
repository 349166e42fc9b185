"""The store's schema: its named migrations, in the order they were written.

A store records in `_sqlite_migrations` (sqlite-utils' `Migrations`) which steps it
has; opening it applies the ones it lacks, in `STEPS` order, inside the opening
transaction. The names never change, so a store made by any earlier version upgrades.
A store that names a step this version does not know was written by a newer one and
is refused untouched. A new step is a function in the `schema_*` module of its area
and one line at the end of `STEPS`. (There is no 0009: it was never released.)
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from membership.store import (
    schema_databases,
    schema_jobs,
    schema_members,
    schema_money,
    schema_requests,
    schema_runtime,
)
from membership.storefaults import newer_store

STEPS: tuple[tuple[str, Callable[[Database], None]], ...] = (
    ("0001_requests_replies_audit", schema_requests.requests_replies_audit),
    ("0002_decisions_cursors_lifecycle", schema_requests.decisions_cursors_lifecycle),
    ("0003_gates", schema_members.gates),
    ("0004_provisioning_jobs", schema_jobs.provisioning_jobs),
    ("0005_ledger", schema_money.ledger),
    ("0006_member_jobs", schema_jobs.member_jobs),
    ("0007_renewal", schema_jobs.reminders_and_suspensions),
    ("0008_page_provenance", schema_requests.page_provenance),
    ("0010_clerk_lease", schema_requests.clerk_lease),
    ("0011_section_readings", schema_requests.section_readings),
    ("0012_member_standing", schema_members.member_standing),
    ("0013_fund_actions", schema_money.fund_actions),
    ("0014_fee_obligations", schema_money.fee_obligations),
    ("0015_reminder_claims", schema_jobs.reminder_claims),
    ("0016_member_leases", schema_jobs.member_leases),
    ("0017_tool_maintainers", schema_jobs.tool_maintainers),
    ("0018_tool_jobs", schema_runtime.tool_jobs),
    ("0019_tool_job_mails", schema_runtime.tool_job_mails),
    ("0020_tool_job_generations", schema_runtime.tool_job_generations),
    ("0021_database_usage", schema_databases.database_usage),
    ("0023_tool_job_node", schema_runtime.tool_job_node),
)

MIGRATIONS: tuple[str, ...] = tuple(name for name, _ in STEPS)
"""Every step's name, oldest first: what `_sqlite_migrations` of a current store holds
(under the set `migrations.name`); tools that only read a store compare against it."""

migrations = Migrations("ats")
for _name, _step in STEPS:
    migrations(name=_name)(_step)


def upgrade(db: Database, path: Path, *, stop_before: str | None = None) -> None:
    """Apply the steps `db` lacks (those before `stop_before` only, when given);
    a store holding steps this version does not know is refused before anything runs."""
    known = set(MIGRATIONS)
    unknown = [m.name for m in migrations.applied(db) if m.name not in known]
    if unknown:
        raise newer_store(path, unknown)
    migrations.apply(db, stop_before=stop_before)
