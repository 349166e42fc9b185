"""The store's schema: its named migrations, in the order they were written.

A store records in `_sqlite_migrations` (sqlite-utils' `Migrations`) which steps it
has; opening it applies the ones it lacks, in `STEPS` order, inside one write
transaction. The names never change, so a store made by any earlier version upgrades.
A store that names a step this version does not know was written by a newer one and
is refused untouched. A new step is a function in the `schema_*` module of its area
and one line at the end of `STEPS`. (There is no 0009: it was never released.)

Every page of the bridge opens the store, so finding it current must not take the
write lock, for which readers would queue behind the bot, the worker and each other:
`is_current` answers with reads only, and the write transaction is taken only when a
step is missing (`upgrade` then looks again inside it, so two processes starting
together on an old store apply each step once). Each process remembers, per database
file, the last row of `_sqlite_migrations` it found current: later opens read only
that row's id, and anything recorded since (a newer version's step) sends them back to
the full look.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

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
    ("0022_request_subject_key", schema_requests.request_subject_key),
    ("0023_tool_job_node", schema_runtime.tool_job_node),
)

MIGRATIONS: tuple[str, ...] = tuple(name for name, _ in STEPS)
"""Every step's name, oldest first: what `_sqlite_migrations` of a current store holds
(under the set `migrations.name`); tools that only read a store compare against it."""
KNOWN = frozenset(MIGRATIONS)

migrations = Migrations("ats")
SET = migrations.name
TABLE = Migrations.migrations_table
for _name, _step in STEPS:
    migrations(name=_name)(_step)


# A database file (st_dev, st_ino) -> the id of the last `_sqlite_migrations` row of a
# look that found it current. Steps are only ever appended to that table, so the same
# last id later means the same steps; a file put in its place has another identity.
_found_current: dict[tuple[int, int], int] = {}


def is_current(conn: sqlite3.Connection, path: Path) -> bool:
    """Whether the store at `path` has every step, found by reading only; a store
    holding steps this version does not know is refused (NewerStoreError)."""
    identity = _identity(path)
    seen = _found_current.get(identity) if identity else None
    if seen is not None:
        last = _read(conn, f"SELECT max(id) FROM {TABLE}")  # noqa: S608 - our own names
        if last and last[0][0] == seen:
            return True
    rows = _read(conn, f"SELECT id, migration_set, name FROM {TABLE} ORDER BY id")  # noqa: S608
    if rows is None:
        return False  # a new file, or an old table: `upgrade` makes it what it should be
    names = [name for _, group, name in rows if group == SET]
    unknown = [name for name in names if name not in KNOWN]
    if unknown:
        raise newer_store(path, unknown)
    if len(set(names)) < len(KNOWN):
        return False
    if identity:
        _found_current[identity] = max(row_id for row_id, _, _ in rows)
    return True


def upgrade(db: Database, path: Path, *, stop_before: str | None = None) -> None:
    """Apply the steps `db` lacks (those before `stop_before` only, when given);
    a store holding steps this version does not know is refused before anything runs.
    Run inside a write transaction, it looks at the steps again, so a step another
    process applied meanwhile is not applied twice."""
    unknown = [m.name for m in migrations.applied(db) if m.name not in KNOWN]
    if unknown:
        raise newer_store(path, unknown)
    migrations.apply(db, stop_before=stop_before)


def _read(conn: sqlite3.Connection, sql: str) -> list[Any] | None:
    """The rows of `sql` on the migrations table, or None when the table (or its `id`
    column, which older sqlite-utils did not make) is missing."""
    try:
        return conn.execute(sql).fetchall()
    except sqlite3.OperationalError as error:
        if "no such table" in str(error) or "no such column" in str(error):
            return None
        raise


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_dev, status.st_ino
