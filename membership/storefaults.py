"""What went wrong with the store, in one line: sqlite3 and OS errors as `StoreError`.

The store is a file on disk shared by several processes, so it can be missing, a
folder, unreadable, not a database, held by another writer for too long, on a full
disk, or written by a newer version of this software. `describe` names each of these
for the store at `path` with what to do about it; `Store` raises the result (a lock
held past the busy timeout as `StoreBusy`, which a watcher retries), and the command
line prints it. The original error stays attached as `__cause__` for
`ats --debug`.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from policies.errors import Refusal


class StoreError(Refusal, RuntimeError):
    """The store cannot be used; the message says why and what to do."""


class StoreBusy(StoreError):
    """Another process held the store's write lock for longer than the busy timeout;
    trying again later is the remedy."""


class NewerStoreError(StoreError):
    """The store holds migrations this version does not know: it was written by a newer one."""


def describe(error: BaseException, path: Path, *, busy_timeout_ms: int | None = None) -> StoreError:
    """`error`, raised while using the store at `path`, as one clear StoreError."""
    where = f"the store {path}"
    if isinstance(error, StoreError):
        return error
    if isinstance(error, sqlite3.Error):
        code = getattr(error, "sqlite_errorcode", None)
        primary = code & 0xFF if isinstance(code, int) else None
        text = str(error)
        if primary in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or "locked" in text:
            waited = f" for more than {busy_timeout_ms / 1000:g} s" if busy_timeout_ms else ""
            return StoreBusy(
                f"{where} is locked by another process{waited}; "
                "try again when that process has finished"
            )
        full = primary == sqlite3.SQLITE_FULL or "disk is full" in text
        if full or primary == sqlite3.SQLITE_IOERR and _disk_full(path):
            return StoreError(f"the disk holding {where} is full; free some space and try again")
        if primary in (sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT) or (
            "not a database" in text or "malformed" in text
        ):
            return StoreError(
                f"{where} is not a usable SQLite database (damaged, or another kind of file); "
                "restore it from a backup or point [store] path elsewhere"
            )
        if primary == sqlite3.SQLITE_READONLY:
            return StoreError(
                f"{where} cannot be written by this user (read-only file or folder); "
                "check its owner and permissions"
            )
        if primary in (sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM, sqlite3.SQLITE_AUTH):
            return _cannot_open(path)
        if primary == sqlite3.SQLITE_IOERR:
            return StoreError(f"reading or writing {where} failed ({text}); check the disk")
        return StoreError(f"{where} failed: {text}")
    if isinstance(error, OSError):
        if error.errno == errno.ENOSPC or _disk_full(path):
            return StoreError(f"the disk holding {where} is full; free some space and try again")
        if error.errno in (errno.EEXIST, errno.ENOTDIR, errno.ENOENT, errno.EISDIR):
            return _cannot_open(path)
        if error.errno in (errno.EACCES, errno.EPERM):
            return StoreError(
                f"{where} cannot be opened: permission denied on {error.filename or path}; "
                "check its owner and permissions"
            )
        reason = error.strerror or str(error)
        return StoreError(f"{where} cannot be opened: {reason} ({error.filename or path})")
    return StoreError(f"{where} failed: {error}")


def newer_store(path: Path, unknown: Sequence[str]) -> NewerStoreError:
    """The refusal to touch a store that has migrations named `unknown`."""
    names = ", ".join(unknown)
    plural = "s" if len(unknown) > 1 else ""
    return NewerStoreError(
        f"the store {path} was written by a newer version of ats: it has migration{plural} "
        f"{names}, which this version does not know; upgrade ats (nothing was changed)"
    )


def _cannot_open(path: Path) -> StoreError:
    """SQLite says only "unable to open database file": find out which part is wrong."""
    if path.is_dir():
        return StoreError(f"the store {path} is a folder, not a database file; fix [store] path")
    folder = path.parent
    if not folder.exists():
        return StoreError(f"the store's folder {folder} does not exist and cannot be created")
    if not folder.is_dir():
        return StoreError(f"the store's folder {folder} is not a folder; fix [store] path")
    return StoreError(
        f"the store {path} cannot be opened: permission denied; "
        "check the owner and permissions of the file and its folder"
    )


def _disk_full(path: Path) -> bool:
    """Whether the file system of `path` has (next to) no room left.

    SQLite reports a full disk as SQLITE_FULL only for the database file itself; when
    its shared-memory or WAL file cannot grow it says "disk I/O error".
    """
    folder = path if path.is_dir() else path.parent
    try:
        usage = os.statvfs(folder)
    except OSError:
        return False
    return usage.f_bavail * usage.f_frsize < LOW_SPACE


LOW_SPACE = 256 * 1024  # bytes: less than this left counts as full
