"""The store's connection: opening, transactions, faults, and the queries every room shares.

The bot, the bridge and the provisioning worker open the store from separate
processes, so it runs in WAL mode with a busy timeout, in autocommit mode: a
statement outside `transaction()` commits at once, and `transaction()` (`BEGIN
IMMEDIATE`, so two writers queue instead of failing) makes one user action or one
cycle step a single commit. Opening a store whose schema is current only reads it
(`schema.is_current`), so a reader never waits for a writer. A room of the store
(`membership/store/`) is a subclass of `StoreConnection` holding the methods of one
area; `Store` gathers them. A sqlite3 error raised by a room's method or inside a
transaction leaves the store as a `StoreError` (`StoreBusy` when another process held
the lock too long), never as a raw sqlite3 error; an `IntegrityError` stays itself,
since the rooms turn the ones they expect into their own errors (a duplicate payment,
an open waiver). The store holds waiver and suspension reasons, so its file is its
owner's alone (`make_private`). A page that needs a dozen lists asks for them as
`Query` values (a room's `…_query` methods) and reads them in one statement (`read`).
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import sqlite3
import stat
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, ParamSpec, Self, TypeVar

from sqlite_utils import Database

from membership.store import schema
from membership.storefaults import StoreError, describe

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")

PRIVATE = 0o600
# SQLite's files beside the store; it creates each with the store file's permission bits.
COMPANIONS = ("-wal", "-shm", "-journal")
# `column IN` any of the values given as one JSON array (`_array`): see `_rows_among`.
_AMONG = "IN (SELECT value FROM json_each(?))"


def _in_store_terms(method: Callable[P, R]) -> Callable[P, R]:
    """`method` raising a StoreError where sqlite3 raised (IntegrityError excepted)."""

    @functools.wraps(method)
    def speaking(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except sqlite3.Error as error:
            store = args[0]
            if _foreign(error) and isinstance(store, StoreConnection):
                raise store.fault(error) from error
            raise

    return speaking


def _foreign(error: BaseException) -> bool:
    """Whether `error` is sqlite3's, not one of the store's own or a constraint a room
    expects (a room turns its IntegrityErrors into errors that say what happened)."""
    return isinstance(error, sqlite3.Error) and not isinstance(error, sqlite3.IntegrityError)


@dataclass(frozen=True)
class Query(Generic[T]):
    """A read not yet run: the SELECT `sql` of the columns `names` (its parameters `args`,
    positional), and `answer`, which makes its rows the caller's value (records, one
    record or None). A room's `…_query` method makes one; `StoreConnection.read` runs
    several in one statement, `StoreConnection.answer` one alone."""

    sql: str
    args: tuple[Any, ...]
    names: tuple[str, ...]
    answer: Callable[[list[dict[str, Any]]], T]


def each(make: Callable[[dict[str, Any]], T]) -> Callable[[list[dict[str, Any]]], list[T]]:
    """A `Query`'s answer: each of its rows made a value (a record)."""
    return lambda rows: [make(row) for row in rows]


def first(make: Callable[[dict[str, Any]], T]) -> Callable[[list[dict[str, Any]]], T | None]:
    """A `Query`'s answer: its first row made a value, None when it has no row."""
    return lambda rows: make(rows[0]) if rows else None


class StoreConnection:
    """One connection to the shared database; cheap to open, safe across processes."""

    def __init__(self, path: str | Path, *, busy_timeout_ms: int = 10_000) -> None:
        self.path = Path(path)
        self.busy_timeout_ms = busy_timeout_ms
        try:
            self._open(busy_timeout_ms)
        except (sqlite3.Error, OSError, StoreError) as error:
            if hasattr(self, "db"):  # a watcher retrying must not pile up open connections
                self.db.conn.close()
            raise self.fault(error) from (None if isinstance(error, StoreError) else error)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Every public method of a room speaks in StoreErrors (see the module docstring).
        super().__init_subclass__(**kwargs)
        for name, value in list(vars(cls).items()):
            if not name.startswith("_") and inspect.isfunction(value):
                setattr(cls, name, _in_store_terms(value))

    def _open(self, busy_timeout_ms: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        make_private(self.path)
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=busy_timeout_ms / 1000)
        self.db = Database(conn)
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        _use_wal(conn, busy_timeout_ms)
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        # Reading the schema takes no lock that waits for a writer: only a store that
        # lacks a step takes the write lock, and `upgrade` looks again inside it.
        if not schema.is_current(conn, self.path):
            with self.transaction():
                schema.upgrade(self.db, self.path)

    def fault(self, error: BaseException) -> StoreError:
        """`error`, raised while using this store, as one clear StoreError."""
        return describe(error, self.path, busy_timeout_ms=self.busy_timeout_ms)

    def close(self) -> None:
        self.db.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[Self]:
        """One write transaction, committed as a whole or not at all; nested calls join
        the outer one, so a room's own transaction becomes part of its caller's."""
        conn = self.db.conn
        if conn.in_transaction:
            yield self
            return
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as error:
            raise self.fault(error) from error
        try:
            yield self
            conn.execute("COMMIT")
        except BaseException as error:
            if conn.in_transaction:  # an error may have ended the transaction already
                conn.execute("ROLLBACK")
            if _foreign(error):
                raise self.fault(error) from error
            raise

    # -- queries shared by the rooms ----------------------------------------------

    def _rows(
        self,
        table: str,
        where: str | None = None,
        args: Sequence[Any] | dict[str, Any] = (),
        *,
        order_by: str | None = "id",
        limit: int | None = None,
        columns: Sequence[str] | None = None,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """The rows of `table` that match, as dicts of `columns` (all of them by default),
        `limit` of them (all by default) from the `offset`-th.

        The same SELECT as sqlite-utils' `rows_where`, which first lists every table to
        see that this one exists: that look-up made each read four times slower, and a
        cycle on a page of 1,000 requests reads thousands of rows one by one. The rows
        come back packed in one value (`_packed`)."""
        names = tuple(columns) if columns is not None else self._columns(table)
        sql = _select(names, table, where, order_by, limit, offset)
        return self._packed(sql, args, names)

    def _later(
        self,
        table: str,
        where: str | None,
        args: Sequence[Any],
        answer: Callable[[list[dict[str, Any]]], T],
        *,
        order_by: str | None = "id",
        limit: int | None = None,
    ) -> Query[T]:
        """The `Query` of what `_rows` reads (every column), its rows made `answer`."""
        names = self._columns(table)
        return Query(_select(names, table, where, order_by, limit), tuple(args), names, answer)

    def _later_first(
        self,
        table: str,
        where: str,
        args: Sequence[Any],
        make: Callable[[dict[str, Any]], T],
    ) -> Query[T | None]:
        """The `Query` of what `_first` reads, its row made `make` (None without one)."""
        return self._later(table, where, args, first(make), order_by=None, limit=1)

    @_in_store_terms
    def answer(self, query: Query[T]) -> T:
        """What `query` answers, read alone (the statement `_rows` runs)."""
        return query.answer(self._packed(query.sql, query.args, query.names))

    @_in_store_terms
    def read(self, **queries: Query[Any]) -> dict[str, Any]:
        """What each of `queries` answers, by the name it was given, read in one statement
        however many there are: each query's rows packed as `_packed` packs them, the packs
        joined into one JSON array. A member's page needs a dozen short lists; a statement
        each handed the interpreter's lock over a dozen times more (see `_packed`)."""
        if not queries:
            return {}
        packs = " || ',' || ".join(f"({_pack(q.sql, q.names)})" for q in queries.values())
        args = [arg for query in queries.values() for arg in query.args]
        (text,) = self.db.conn.execute(f"SELECT '[' || {packs} || ']'", args).fetchone()
        return {
            name: query.answer([dict(zip(query.names, values, strict=True)) for values in rows])
            for (name, query), rows in zip(queries.items(), json.loads(text), strict=True)
        }

    def _packed(
        self, sql: str, args: Sequence[Any] | dict[str, Any], names: Sequence[str]
    ) -> list[dict[str, Any]]:
        """The rows of the SELECT `sql` (of the columns `names`, in order), read as one
        JSON array that SQLite builds: one step of the statement instead of one a row.
        Python's sqlite3 lets go of the interpreter's lock for every step, and a server
        thread reading a list of 200 rows while seven others wait for that lock was
        handing it over hundreds of times a page (a context switch each). The store holds
        text and integers only, which JSON carries as they are; the subquery's ORDER BY
        is the order the array is built in (SQLite does not flatten an ordered subquery
        into an aggregate)."""
        (text,) = self.db.conn.execute(_pack(sql, tuple(names)), args).fetchone()
        return [dict(zip(names, values, strict=True)) for values in json.loads(text)]

    def _columns(self, table: str) -> tuple[str, ...]:
        """The columns of `table`, read once per connection (migrations only add
        columns, and run when a connection opens, before it reads)."""
        known: dict[str, tuple[str, ...]] = self.__dict__.setdefault("_table_columns", {})
        if table not in known:
            info = self.db.conn.execute(f"PRAGMA table_info({_identifier(table)})")
            known[table] = tuple(str(row[1]) for row in info.fetchall())
        return known[table]

    def _first(
        self, table: str, where: str, args: Sequence[Any], *, order_by: str | None = None
    ) -> dict[str, Any] | None:
        """The first row of `table` that matches, or None."""
        rows = self._rows(table, where, args, order_by=order_by, limit=1)
        return rows[0] if rows else None

    def _matching(
        self, table: str, *, order_by: str = "id", limit: int | None = None, **equal: Any
    ) -> list[dict[str, Any]]:
        """The rows whose columns equal the given values; a value of None is no filter."""
        given = {column: value for column, value in equal.items() if value is not None}
        where = " AND ".join(f"{_identifier(column)} = :{column}" for column in given)
        return self._rows(table, where or None, given, order_by=order_by, limit=limit)

    def _later_matching(
        self,
        table: str,
        answer: Callable[[list[dict[str, Any]]], T],
        *,
        order_by: str = "id",
        **equal: Any,
    ) -> Query[T]:
        """The `Query` of what `_matching` reads, its rows made `answer`."""
        given = {column: value for column, value in equal.items() if value is not None}
        where = " AND ".join(f"{_identifier(column)} = ?" for column in given)
        return self._later(table, where or None, list(given.values()), answer, order_by=order_by)

    def _rows_among(
        self,
        table: str,
        column: str,
        values: Iterable[Any],
        where: str | None = None,
        args: Sequence[Any] = (),
        *,
        order_by: str | None = "id",
    ) -> list[dict[str, Any]]:
        """The rows of `table` whose `column` is one of `values` (and that match `where`),
        in one statement however many values: they go as one JSON array that SQLite's
        `json_each` reads, so a page listing many people asks once, never meeting
        SQLite's limit on a statement's parameters."""
        among = f"{_identifier(column)} {_AMONG}"
        given = [_array(values), *args]
        return self._rows(
            table, f"{among} AND ({where})" if where else among, given, order_by=order_by
        )

    def _present(
        self,
        table: str,
        column: str,
        values: Iterable[Any],
        where: str | None = None,
        args: Sequence[Any] = (),
    ) -> set[Any]:
        """Which of `values` some row of `table` holds in `column` (a row matching
        `where`), in one statement as `_rows_among`."""
        name = _identifier(column)
        sql = f"SELECT DISTINCT {name} FROM {_identifier(table)} WHERE {name} {_AMONG}"  # noqa: S608
        if where:
            sql += f" AND ({where})"
        return {row[0] for row in self.db.conn.execute(sql, [_array(values), *args])}

    def _query(self, sql: str, args: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """The rows of a query joining tables, as dicts."""
        return _dicts(self.db.conn.execute(sql, list(args)))

    # The bot writes thousands of rows in a cycle on a large page: these skip the
    # schema introspection that sqlite-utils' insert() and update() do on every call.

    def _insert(self, table: str, row: Mapping[str, Any]) -> int:
        columns = ", ".join(map(_identifier, row))
        marks = ", ".join("?" for _ in row)
        sql = f"INSERT INTO {_identifier(table)} ({columns}) VALUES ({marks})"  # noqa: S608
        return int(self.db.conn.execute(sql, list(row.values())).lastrowid or 0)

    def _update(self, table: str, row_id: int, changes: Mapping[str, Any]) -> None:
        if changes:
            sets = ", ".join(f"{_identifier(name)} = ?" for name in changes)
            sql = f"UPDATE {_identifier(table)} SET {sets} WHERE id = ?"  # noqa: S608
            self.db.conn.execute(sql, [*changes.values(), row_id])

    def _changed(self, sql: str, args: Sequence[Any]) -> int:
        """Run one write statement; how many rows it changed."""
        return int(self.db.execute(sql, list(args)).rowcount)


def make_private(path: Path) -> None:
    """Create the database file `path` empty and 0600 before SQLite opens it, or take
    the group's and others' bits off the one there and off its companions.

    SQLite would create the file 0644 less the umask, readable by everyone; the
    `-wal`, `-shm` and `-journal` files it makes later get the main file's bits, so a
    private main file keeps them private too. Only bits are taken away from a file
    that exists: a read-only store stays read-only."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, PRIVATE)
    except FileExistsError:
        for name in (path.name, *(path.name + suffix for suffix in COMPANIONS)):
            _tighten(path.with_name(name))
        return
    try:
        os.fchmod(fd, PRIVATE)  # a umask such as 0277 takes the owner's bits too
    finally:
        os.close(fd)


def _tighten(path: Path) -> None:
    try:
        mode = path.stat().st_mode
        if stat.S_ISREG(mode) and mode & 0o077:
            path.chmod(stat.S_IMODE(mode) & ~0o077)
    except OSError:
        pass  # missing, or another user's: opening it says what is wrong, if anything


def _use_wal(conn: sqlite3.Connection, busy_timeout_ms: int) -> None:
    """Put the database in WAL mode. Turning a new file into WAL takes a lock without
    SQLite's busy handler, so two processes creating the store together would have one
    of them fail at once: wait for the other, within the busy timeout."""
    deadline = time.monotonic() + busy_timeout_ms / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _select(
    names: tuple[str, ...],
    table: str,
    where: str | None,
    order_by: str | None,
    limit: int | None,
    offset: int | None = None,
) -> str:
    sql = f"SELECT {_listed(names)} FROM {_identifier(table)}"  # noqa: S608 - the store's own names
    if where is not None:
        sql += f" WHERE {where}"
    if order_by is not None:
        sql += f" ORDER BY {order_by}"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
        if offset:
            sql += f" OFFSET {int(offset)}"
    return sql


def _pack(sql: str, names: tuple[str, ...]) -> str:
    """The SELECT of one value, the JSON array of the rows of `sql` (see `_packed`)."""
    return f"SELECT json_group_array(json_array({_listed(names)})) FROM ({sql})"  # noqa: S608


@functools.lru_cache(maxsize=512)
def _listed(names: tuple[str, ...]) -> str:
    """The columns `names`, quoted, as a SELECT lists them (the same few lists, read
    again and again)."""
    return ", ".join(map(_identifier, names))


def _identifier(name: str) -> str:
    """A table or column name of the store's own, quoted; anything else is refused."""
    if not name.isidentifier():
        raise ValueError(f"not a column name: {name!r}")
    return f'"{name}"'


def _array(values: Iterable[Any]) -> str:
    """`values` as the JSON array `json_each` reads (each once, in order)."""
    return json.dumps(sorted(set(values)), ensure_ascii=False)


def _dicts(cursor: sqlite3.Cursor) -> list[dict[str, Any]]:
    """A SELECT's rows as dicts. Not through sqlite-utils' `query`, which wraps every
    statement in a savepoint: three statements for one read, 5-9% of a bot cycle."""
    keys = [column[0] for column in cursor.description or ()]
    return [dict(zip(keys, row, strict=True)) for row in cursor.fetchall()]
