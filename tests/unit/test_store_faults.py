"""The store refuses what it cannot use with one clear StoreError: a damaged file, a
folder, a writer that holds it too long, a store written by a newer version."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlite_utils import Database

from membership.store import Store, StoreBusy, StoreError, schema
from membership.storefaults import NewerStoreError


def test_a_new_store_and_its_folder_are_created(tmp_path: Path) -> None:
    store = Store(tmp_path / "var" / "ats.sqlite")
    assert store.requests() == []
    store.close()


def test_a_damaged_file(tmp_path: Path) -> None:
    path = tmp_path / "ats.sqlite"
    path.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4096)
    with pytest.raises(StoreError, match="is not a usable SQLite database") as caught:
        Store(path)
    assert isinstance(caught.value.__cause__, sqlite3.DatabaseError)  # kept for --debug


def test_a_folder(tmp_path: Path) -> None:
    (tmp_path / "ats.sqlite").mkdir()
    with pytest.raises(StoreError, match="is a folder, not a database file"):
        Store(tmp_path / "ats.sqlite")


def test_a_file_where_the_folder_should_be(tmp_path: Path) -> None:
    (tmp_path / "var").write_text("")
    with pytest.raises(StoreError, match=r"the store's folder .*/var is not a folder"):
        Store(tmp_path / "var" / "ats.sqlite")


def test_a_writer_holding_it_past_the_busy_timeout(tmp_path: Path) -> None:
    # Only a store that lacks a step needs the write lock to open (a current one is
    # read: tests/unit/test_store_opening.py); one the last version left is such a store.
    path = tmp_path / "ats.sqlite"
    older = Database(sqlite3.connect(path, isolation_level=None))
    schema.upgrade(older, path, stop_before=schema.MIGRATIONS[-1])
    older.close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreError, match="locked by another process for more than 0.2 s"):
            Store(path, busy_timeout_ms=200)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    store = Store(path, busy_timeout_ms=200)  # free again: opens, and migrates
    applied = store.db.execute("SELECT name FROM _sqlite_migrations ORDER BY id").fetchall()
    store.close()
    assert [name for (name,) in applied] == list(schema.MIGRATIONS)


def test_a_busy_store_raises_its_own_error_from_any_room(tmp_path: Path) -> None:
    path = tmp_path / "ats.sqlite"
    store = Store(path, busy_timeout_ms=100)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreBusy, match="locked by another process") as caught:
            store.set_cursor("watch", "1")  # a single write, outside any transaction
        assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
        with pytest.raises(StoreBusy), store.transaction():
            pass  # the write lock itself cannot be had
        with pytest.raises(StoreBusy), store.transaction():
            pass
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    store.set_cursor("watch", "2")  # free again: writes
    assert store.cursor("watch") == "2"
    store.close()


def test_a_store_from_a_newer_version_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "ats.sqlite"
    Store(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
            "VALUES ('ats', '0042_later', 'x'), ('ats', '0043_later_still', 'y'), "
            "('other', '9999_not_ours', 'z')"
        )
    conn.close()
    before = path.read_bytes()
    with pytest.raises(NewerStoreError) as caught:
        Store(path)
    assert str(caught.value) == (
        f"the store {path} was written by a newer version of ats: it has migrations "
        "0042_later, 0043_later_still, which this version does not know; upgrade ats "
        "(nothing was changed)"
    )
    assert path.read_bytes() == before


_OPENER = """
import sys, time
from membership.store import Store
base, start = sys.argv[1], float(sys.argv[2])
failed = 0
for n in range(30):
    while time.time() < start + n * 0.1:
        time.sleep(0.001)
    try:
        Store(f"{base}/store-{n}.sqlite").close()
    except Exception as error:
        failed += 1
        print(error, file=sys.stderr)
print(failed)
"""


def test_processes_creating_the_store_together_all_open_it(tmp_path: Path) -> None:
    # Turning a new file into WAL mode takes a lock without SQLite's busy handler: three
    # clerks started together on a new store must wait for each other, not fail.
    import subprocess
    import sys
    import time

    start = str(time.time() + 0.5)
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", _OPENER, str(tmp_path), start],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outcomes = [run.communicate(timeout=60) for run in runs]
    assert [out.strip() for out, _ in outcomes] == ["0", "0", "0"], outcomes
