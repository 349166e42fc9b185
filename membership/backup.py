"""Backing up and restoring the store with SQLite's online backup API.

`backup` copies the live store (`sqlite3.Connection.backup`) into a new single-file
database while the bot, the bridge and the worker keep writing. It copies in one step:
the store is in WAL mode, so that step's read transaction is a snapshot that writers do
not wait for, and the copy is one consistent moment of the store. (In small steps, a
write from another connection makes SQLite start the copy again: under a steady writer
a 17 MB store took 3.6 s in steps of 256 pages, 0.7 s in one step.) It is written
beside the target and renamed into place only once it passed `PRAGMA integrity_check`.

`restore` refuses, each in one line naming what to do: a file that is not an ats store,
one written by a newer version (it has migrations this code does not know), a damaged
one, and — unless `force` — a store that exists, above all one a running process has
open. It then copies the backup into the store's file through the same backup API (so
even a forced restore under a running process is a single atomic change for the other
connections) and opens it with `Store`, which applies any migrations the backup lacks.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from membership.store import MIGRATIONS, Store, migrations
from membership.store.connection import make_private
from membership.storefaults import StoreError, describe

ALL_PAGES = -1  # one step, one snapshot (see the module's docstring)
# SQLite's write-ahead log: every open connection holds a shared lock on this byte of
# the `-shm` file (the "DMS" slot) for as long as it is open.
SHM_DMS_BYTE = 128


class BackupError(StoreError):
    """A backup or restore was refused or failed; the message says what to do."""


@dataclass(frozen=True)
class Copied:
    path: Path
    bytes: int
    migrations: int

    def summary(self, verb: str) -> str:
        return f"{verb} {self.path} ({self.bytes} bytes, schema at migration {self.migrations})"


def backup(store_path: Path, target: Path) -> Copied:
    """Copy the store at `store_path` into `target`, safely while others write."""
    if not store_path.is_file():
        raise BackupError(f"there is no store at {store_path} to back up; check [store] path")
    if target.is_dir():
        raise BackupError(f"{target} is a folder: name the backup file, e.g. {target}/ats.sqlite")
    if target.resolve() == store_path.resolve():
        raise BackupError(f"{target} is the store itself: write the backup to another file")
    Store(store_path).close()  # a store that cannot be opened is told in its own words
    staged = target.with_name(target.name + ".partial")
    staged.unlink(missing_ok=True)
    try:
        make_private(staged)  # a copy of the store is as private as the store
        with (
            contextlib.closing(_connect(store_path)) as source,
            contextlib.closing(sqlite3.connect(staged)) as copy,
        ):
            source.backup(copy, pages=ALL_PAGES)
            # One self-contained file: no write-ahead log beside it.
            copy.execute("PRAGMA journal_mode = DELETE")
            _check_integrity(copy, staged)
        os.replace(staged, target)
    except sqlite3.Error as error:
        staged.unlink(missing_ok=True)
        raise describe(error, store_path) from error
    except OSError as error:
        staged.unlink(missing_ok=True)
        raise BackupError(f"cannot write the backup {target}: {error.strerror or error}") from None
    return Copied(target, target.stat().st_size, len(_migrations_of(target)))


def restore(source: Path, store_path: Path, *, force: bool = False) -> Copied:
    """Replace the store at `store_path` with the backup `source` (see the module doc)."""
    applied = check_backup(source)
    if store_path.exists() and not force:
        if in_use(store_path):
            raise BackupError(
                f"the store {store_path} is open in a running process (the bot, the bridge or "
                "the worker): stop them first, or pass --force to restore under them"
            )
        raise BackupError(
            f"the store {store_path} exists: pass --force to replace it with {source} "
            "(what it holds now is lost; back it up first)"
        )
    store_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        make_private(store_path)
        with (
            contextlib.closing(_connect(source, read_only=True)) as backup_db,
            contextlib.closing(_connect(store_path)) as store_db,
        ):
            backup_db.backup(store_db, pages=ALL_PAGES)
    except (sqlite3.Error, OSError) as error:
        raise describe(error, store_path) from error
    Store(store_path).close()  # to WAL mode and the current schema
    return Copied(store_path, store_path.stat().st_size, len(applied))


def check_backup(source: Path) -> list[str]:
    """The migrations `source` holds, or a BackupError saying why it cannot be restored."""
    if not source.is_file():
        raise BackupError(f"there is no backup file {source}")
    try:
        with contextlib.closing(_connect(source, read_only=True)) as db:
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
            _check_integrity(db, source)
    except sqlite3.DatabaseError:
        raise BackupError(f"{source} is not an ats store backup (not a SQLite database)") from None
    applied = _migrations_of(source)
    if not applied:
        raise BackupError(f"{source} is not an ats store backup (it holds no ats schema)")
    known = set(MIGRATIONS)
    unknown = [name for name in applied if name not in known]
    if unknown:
        raise BackupError(
            f"{source} was written by a newer version of ats (it has migration "
            f"{', '.join(unknown)}, unknown here): upgrade ats before restoring it"
        )
    return applied


def in_use(store_path: Path) -> bool:
    """Whether some process has the store open (it holds the write-ahead log's lock)."""
    shm = store_path.with_name(store_path.name + "-shm")
    try:
        fd = os.open(shm, os.O_RDWR)
    except OSError:
        return False  # no shared memory file: no connection in WAL mode
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, SHM_DMS_BYTE)
    except OSError:
        return True
    else:
        fcntl.lockf(fd, fcntl.LOCK_UN, 1, SHM_DMS_BYTE)
        return False
    finally:
        os.close(fd)


def _connect(path: Path, *, read_only: bool = False) -> sqlite3.Connection:
    if read_only:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=10)
    else:
        conn = sqlite3.connect(path, timeout=10)
    conn.execute("PRAGMA busy_timeout = 10000")
    return conn


def _check_integrity(db: sqlite3.Connection, path: Path) -> None:
    found = [row[0] for row in db.execute("PRAGMA integrity_check").fetchall()]
    if found != ["ok"]:
        raise BackupError(f"{path} is damaged (integrity check: {found[0]}); use another backup")


def _migrations_of(path: Path) -> list[str]:
    with contextlib.closing(_connect(path, read_only=True)) as db:
        try:
            rows = db.execute(
                "SELECT name FROM _sqlite_migrations WHERE migration_set = ?",
                [migrations.name],
            ).fetchall()
        except sqlite3.OperationalError:
            return []
    return [row[0] for row in rows]
