"""Whether the store's data changed, for a whole process: a stamp that moves with every
change any process commits.

A process that keeps what it computed from the store (the bridge's desk, bridge/kept.py)
must know when that became stale, however many connections it reads through and
whichever process wrote. SQLite's `PRAGMA data_version` moves whenever a connection
other than the one asking commits a change, from this process or another; but each
connection counts for itself. `ChangeWatch` asks through one connection of its own,
shared by the process's threads, that never writes: its count moves with every commit
of every other connection, the process's own included. A value computed after reading a
stamp is current as long as the stamp reads the same. Reading it is one statement that
reads no table.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from pathlib import Path
from urllib.parse import quote

from membership.storefaults import describe


class ChangeWatch:
    """The stamp of the store at `path`, for any thread of this process."""

    def __init__(self, path: str | Path, *, busy_timeout_ms: int = 10_000) -> None:
        self.path = Path(path)
        self.busy_timeout_ms = busy_timeout_ms
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0
        # Each connection counts from its own start: a stamp carries which one it was.
        self._opened = 0

    def stamp(self) -> tuple[int, int]:
        """A value that reads the same until some connection, in any process, commits a
        change to the store."""
        with self._lock:
            try:
                conn = self._connection()
                (version,) = conn.execute("PRAGMA data_version").fetchone()
            except sqlite3.Error as error:
                self._close()  # the next stamp starts on a new connection
                raise describe(error, self.path, busy_timeout_ms=self.busy_timeout_ms) from error
            return self._opened, int(version)

    def close(self) -> None:
        with self._lock:
            self._close()

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None or self._pid != os.getpid():  # a fork opens its own
            # `mode=rw`: the store is made (private) by `Store`; never an empty file here.
            address = f"file:{quote(str(self.path))}?mode=rw"
            self._conn = sqlite3.connect(
                address,
                uri=True,
                isolation_level=None,
                check_same_thread=False,  # the lock above keeps it to one thread at a time
                timeout=self.busy_timeout_ms / 1000,
            )
            self._pid = os.getpid()
            self._opened += 1
        return self._conn

    def _close(self) -> None:
        if self._conn is not None and self._pid == os.getpid():
            with contextlib.suppress(sqlite3.Error):  # it is dropped either way
                self._conn.close()
        self._conn = None
