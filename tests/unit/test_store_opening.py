"""Opening the store reads its schema without the write lock, and migrates under it.

Every page of the bridge opens the store: a reader must not queue behind a writer for
it. Only a store that lacks a step takes the write lock, and processes that start
together on a new or an older store (real processes, as the bot, the worker and the
bridge are) each open it, with every step applied once.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlite_utils import Database

from membership.store import Store, schema
from membership.storefaults import NewerStoreError
from tests.builders import add_request
from tests.unit.test_store_upgrade import layout

# A process that says it is ready, waits for the moment it is given, opens the store
# and says which steps it applied and whether it took the write lock.
_OPENER = """
import json, re, sqlite3, sys, time
from membership.store import Store
path = sys.argv[1]
statements = []
connect = sqlite3.connect
def tracing(*args, **kwargs):
    conn = connect(*args, **kwargs)
    conn.set_trace_callback(statements.append)
    return conn
sqlite3.connect = tracing
print("ready", flush=True)
start = float(sys.stdin.readline())
while time.time() < start:
    time.sleep(0.001)
Store(path).close()
step = re.compile(r"INSERT INTO ._sqlite_migrations. .* VALUES \\('[^']*', 'ats', '([^']+)'\\)")
applied = [match.group(1) for match in map(step.match, statements) if match]
print(json.dumps({"applied": applied, "locked": "BEGIN IMMEDIATE" in statements}))
"""


def _start_together(path: Path, count: int) -> list[subprocess.Popen[str]]:
    """`count` processes opening the store at `path` at the same moment."""
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", _OPENER, str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    for run in runs:
        assert run.stdout is not None
        assert run.stdout.readline().strip() == "ready", run.stderr and run.stderr.read()
    start = time.time() + 0.1
    for run in runs:
        assert run.stdin is not None
        run.stdin.write(f"{start}\n")
        run.stdin.flush()
    return runs


def _outcomes(runs: list[subprocess.Popen[str]]) -> list[dict[str, Any]]:
    outcomes = []
    for run in runs:
        out, err = run.communicate(timeout=60)
        assert run.returncode == 0, err
        outcomes.append(json.loads(out))
    return outcomes


def _applied(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    rows = conn.execute("SELECT name FROM _sqlite_migrations ORDER BY id").fetchall()
    conn.close()
    return [name for (name,) in rows]


@pytest.fixture(scope="module")
def fresh_layout(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, str, str]]:
    path = tmp_path_factory.mktemp("fresh") / "ats.sqlite"
    Store(path).close()
    return layout(path)


def _older(path: Path, stop_before: str) -> None:
    """A store as a version that ended before `stop_before` left it."""
    db = Database(sqlite3.connect(path, isolation_level=None))
    db.execute("PRAGMA journal_mode = WAL")
    schema.upgrade(db, path, stop_before=stop_before)
    db.close()


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    """A current store at tmp_path/ats.sqlite, and another connection to it."""
    path = tmp_path / "ats.sqlite"
    Store(path).close()
    conn = sqlite3.connect(path, isolation_level=None)
    yield conn
    if conn.in_transaction:
        conn.execute("ROLLBACK")
    conn.close()


def test_processes_starting_together_on_a_new_store_apply_each_step_once(
    tmp_path: Path, fresh_layout: list[tuple[str, str, str]]
) -> None:
    path = tmp_path / "ats.sqlite"
    outcomes = _outcomes(_start_together(path, 3))
    applied = [name for outcome in outcomes for name in outcome["applied"]]
    assert sorted(applied) == list(schema.MIGRATIONS)
    assert _applied(path) == list(schema.MIGRATIONS)
    assert layout(path) == fresh_layout


def test_processes_starting_together_on_an_older_store_apply_each_step_once(
    tmp_path: Path, fresh_layout: list[tuple[str, str, str]]
) -> None:
    path = tmp_path / "ats.sqlite"
    pending = list(schema.MIGRATIONS[10:])
    _older(path, pending[0])
    # A writer holds the lock while they start: each finds a step missing, reading only,
    # and queues for the lock; the first applies the steps, the others find none left.
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    try:
        runs = _start_together(path, 3)
        time.sleep(1)
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    outcomes = _outcomes(runs)
    assert [outcome["locked"] for outcome in outcomes] == [True, True, True]
    applied = [name for outcome in outcomes for name in outcome["applied"]]
    assert sorted(applied) == pending
    assert sorted(len(outcome["applied"]) for outcome in outcomes) == [0, 0, len(pending)]
    assert _applied(path) == list(schema.MIGRATIONS)
    assert layout(path) == fresh_layout


def test_a_current_store_opens_and_reads_while_a_writer_holds_the_lock(
    tmp_path: Path, holder: sqlite3.Connection
) -> None:
    path = tmp_path / "ats.sqlite"
    add_request(Store(path), "Alice")
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("DELETE FROM requests")  # not committed: readers still see the request
    for _ in range(2):  # the first look at this file, then the one remembered
        began = time.monotonic()
        store = Store(path, busy_timeout_ms=5000)
        assert [request.requester for request in store.requests()] == ["Alice"]
        store.close()
        assert time.monotonic() - began < 1


def test_opening_a_current_store_reads_one_row_and_takes_no_lock(
    tmp_path: Path, traced: list[str]
) -> None:
    path = tmp_path / "ats.sqlite"
    Store(path).close()
    statements = traced
    opens = []
    for _ in range(3):
        statements.clear()
        Store(path).close()
        opens.append([s for s in statements if not s.startswith("PRAGMA")])
    first, *later = opens
    assert first == ["SELECT id, migration_set, name FROM _sqlite_migrations ORDER BY id"]
    assert later == [["SELECT max(id) FROM _sqlite_migrations"]] * 2


def test_a_step_recorded_after_a_look_is_seen_at_the_next_open(tmp_path: Path) -> None:
    path = tmp_path / "ats.sqlite"
    for _ in range(2):  # the second open remembers the file as current
        Store(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
            "VALUES ('ats', '0042_later', 'x')"
        )
    conn.close()
    with pytest.raises(NewerStoreError, match="it has migration 0042_later,"):
        Store(path)


def test_a_file_put_in_the_stores_place_is_looked_at_anew(tmp_path: Path) -> None:
    path = tmp_path / "ats.sqlite"
    for _ in range(2):
        Store(path).close()
    older = tmp_path / "older.sqlite"
    _older(older, schema.MIGRATIONS[-1])
    older.replace(path)  # a restored backup, say
    Store(path).close()
    assert _applied(path) == list(schema.MIGRATIONS)
