"""The tool database server (MariaDB 10.11) as the reconciler sees and changes it, over
PyMySQL.

The reconciler logs in as the server's administrator: `root` through the server's
socket (MariaDB's `unix_socket` authentication, as Debian installs it: root on the
host, no password), or over TCP with a password from the environment. `users()` reads
every user of ours (`s<uid>` and `u<uid>` at host `%`) in a few queries — its accepted
password hashes, lock, limit and privileges from the grant tables, its roles and its
open connections — and the other methods each change one thing with one statement
that is harmless to repeat ("no such grant" from a revoke that a previous run already
made counts as done). Passwords are sent only as hashes (`IDENTIFIED BY PASSWORD`,
`USING '*…'`). Sizes are what `information_schema.tables` says per database.

Every statement is built from names checked by `databases.naming` and hashes checked
to be hashes; nothing else is ever put into SQL, and PyMySQL's own `%` formatting is
not used for them (a grant pattern holds a `%`).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pymysql
import pymysql.cursors

from databases.naming import (
    checked_hash,
    checked_user,
    grant_pattern,
    owner_of_database,
    quoted_identifier,
)
from databases.plan import ServerUser
from policies.errors import Refusal

HOST = "%"
NO_SUCH_GRANT = (1141, 1147, 1403)  # a revoke of what is not there: already done
UNKNOWN_THREAD = 1094
LOST = (2003, 2006, 2013)
PRIVILEGE_COLUMNS_SKIPPED = ("Grant_priv",)
TIMEOUT = 10


class ServerUnavailable(Refusal, RuntimeError):
    """The database server cannot be reached or refused the administrator; the message
    says which and how."""


@dataclass(frozen=True)
class AdminSettings:
    """How the reconciler reaches the server as its administrator."""

    socket: str = "/run/mysqld/mysqld.sock"
    host: str = ""  # over TCP instead of the socket
    port: int = 3306
    user: str = "root"
    password: str = ""

    def where(self) -> str:
        return f"{self.host}:{self.port}" if self.host else self.socket


class Server:
    def __init__(self, connection: pymysql.connections.Connection[Any], where: str) -> None:
        self.connection = connection
        self.where = where

    def close(self) -> None:
        self.connection.close()

    # -- reading ---------------------------------------------------------------

    def users(self) -> dict[str, ServerUser]:
        """Every user of ours at host `%`, by name."""
        found: dict[str, dict[str, Any]] = {}
        for user, priv in self._rows(
            "SELECT User, Priv FROM mysql.global_priv WHERE Host = '%' "
            "AND User REGEXP '^[su][0-9]{1,10}$'"
        ):
            found[str(user)] = _from_priv(json.loads(priv))
        if not found:
            return {}
        databases: dict[str, dict[str, tuple[bool, bool]]] = defaultdict(dict)
        for row in self._dicts("SELECT * FROM mysql.db WHERE Host = '%'"):
            user = str(row["User"])
            if user in found:
                privileges = [
                    value
                    for key, value in row.items()
                    if key.endswith("_priv") and key not in PRIVILEGE_COLUMNS_SKIPPED
                ]
                full = all(value == "Y" for value in privileges)
                databases[user][str(row["Db"])] = (full, row.get("Grant_priv") == "Y")
        others: dict[str, int] = defaultdict(int)
        for table in ("tables_priv", "columns_priv", "procs_priv"):
            for user, count in self._rows(
                f"SELECT User, COUNT(*) FROM mysql.{table} WHERE Host = '%' GROUP BY User"  # noqa: S608 - a fixed name
            ):
                others[str(user)] += int(count)
        roles: dict[str, list[str]] = defaultdict(list)
        for user, role in self._rows("SELECT User, Role FROM mysql.roles_mapping WHERE Host = '%'"):
            roles[str(user)].append(str(role))
        sessions = dict(
            self._rows("SELECT USER, COUNT(*) FROM information_schema.PROCESSLIST GROUP BY USER")
        )
        return {
            user: ServerUser(
                user=user,
                databases=databases.get(user, {}),
                other_grants=others.get(user, 0),
                roles=tuple(sorted(roles.get(user, ()))),
                sessions=int(sessions.get(user, 0)),
                **facts,
            )
            for user, facts in found.items()
        }

    def databases(self, user: str | None = None) -> list[str]:
        """The databases of one user (`user`'s prefix), or of every user of ours."""
        names = [
            str(name)
            for (name,) in self._rows("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA")
        ]
        return sorted(
            name
            for name in names
            if (owner := owner_of_database(name)) and (user is None or owner == user)
        )

    def sizes(self) -> dict[str, dict[str, int]]:
        """Each user's databases and their sizes in bytes (data and indexes), by user."""
        found: dict[str, dict[str, int]] = defaultdict(dict)
        for name in self.databases():
            owner = owner_of_database(name)
            assert owner is not None
            found[owner][name] = 0
        for schema, size in self._rows(
            "SELECT TABLE_SCHEMA, SUM(COALESCE(DATA_LENGTH, 0) + COALESCE(INDEX_LENGTH, 0)) "
            "FROM information_schema.TABLES GROUP BY TABLE_SCHEMA"
        ):
            owner = owner_of_database(str(schema))
            if owner is not None:
                found[owner][str(schema)] = int(size or 0)
        return dict(found)

    # -- changing --------------------------------------------------------------

    def create(self, user: str, password_hash: str, *, locked: bool, max_connections: int) -> None:
        """The user, with its one password, lock and limit, and its grant."""
        self._run(
            f"CREATE USER {_account(user)} IDENTIFIED BY PASSWORD '{checked_hash(password_hash)}' "
            f"WITH MAX_USER_CONNECTIONS {int(max_connections)} "
            f"ACCOUNT {'LOCK' if locked else 'UNLOCK'}"
        )
        self.grant(user)

    def grant(self, user: str) -> None:
        own = quoted_identifier(grant_pattern(user))
        self._run(f"GRANT ALL PRIVILEGES ON {own}.* TO {_account(user)}")

    def revoke_grant_option(self, user: str, pattern: str) -> None:
        self._revoke(f"REVOKE GRANT OPTION ON {quoted_identifier(pattern)}.* FROM {_account(user)}")

    def revoke_global(self, user: str) -> None:
        self._revoke(f"REVOKE ALL PRIVILEGES ON *.* FROM {_account(user)}")
        self._revoke(f"REVOKE GRANT OPTION ON *.* FROM {_account(user)}")

    def revoke_database(self, user: str, pattern: str) -> None:
        self._revoke(
            f"REVOKE ALL PRIVILEGES ON {quoted_identifier(pattern)}.* FROM {_account(user)}"
        )
        self._revoke(f"REVOKE GRANT OPTION ON {quoted_identifier(pattern)}.* FROM {_account(user)}")

    def revoke_role(self, user: str, role: str) -> None:
        self._revoke(f"REVOKE {quoted_identifier(role)} FROM {_account(user)}")

    def revoke_everything(self, user: str) -> None:
        """Every privilege and the grant option at every level (its own grant too)."""
        self._revoke(f"REVOKE ALL PRIVILEGES, GRANT OPTION FROM {_account(user)}")

    def lock(self, user: str) -> None:
        """No new login; the connections it has open are ended."""
        self._run(f"ALTER USER {_account(user)} ACCOUNT LOCK")
        self.end_sessions(user)

    def unlock(self, user: str) -> None:
        self._run(f"ALTER USER {_account(user)} ACCOUNT UNLOCK")

    def end_sessions(self, user: str) -> None:
        checked_user(user)
        for (thread,) in self._rows(
            f"SELECT ID FROM information_schema.PROCESSLIST WHERE USER = '{user}'"  # noqa: S608 - checked
        ):
            try:
                self._run(f"KILL CONNECTION {int(thread)}")
            except pymysql.err.MySQLError as error:
                if _code(error) != UNKNOWN_THREAD:  # it ended meanwhile
                    raise

    def limit(self, user: str, max_connections: int) -> None:
        self._run(f"ALTER USER {_account(user)} WITH MAX_USER_CONNECTIONS {int(max_connections)}")

    def set_password(self, user: str, password_hash: str) -> None:
        """`password_hash` becomes the only password the user is accepted with."""
        self._run(
            f"ALTER USER {_account(user)} IDENTIFIED BY PASSWORD '{checked_hash(password_hash)}'"
        )

    def accept_both(self, user: str, old_hash: str, new_hash: str) -> None:
        """Either password logs the user in (MariaDB has no dual passwords: two ways of
        the same plugin do it), for a rotation's moment between the two."""
        methods = " OR ".join(
            f"mysql_native_password USING '{checked_hash(value)}'" for value in (old_hash, new_hash)
        )
        self._run(f"ALTER USER {_account(user)} IDENTIFIED VIA {methods}")

    def create_database(self, name: str) -> None:
        """An empty database of a tool or member (its owner's grant covers it already)."""
        if owner_of_database(name) is None:
            raise ValueError(f"{name!r} is not a database of a tool or member")
        self._run(f"CREATE DATABASE {quoted_identifier(name)}")

    def drop_database(self, name: str) -> None:
        if owner_of_database(name) is None:
            raise ValueError(f"{name!r} is not a database of a tool or member")
        self._run(f"DROP DATABASE IF EXISTS {quoted_identifier(name)}")

    # -- plumbing --------------------------------------------------------------

    def _run(self, statement: str) -> None:
        with self._cursor() as cursor:
            cursor.execute(statement)

    def _revoke(self, statement: str) -> None:
        try:
            self._run(statement)
        except pymysql.err.MySQLError as error:
            if _code(error) not in NO_SUCH_GRANT:
                raise

    def _rows(self, query: str) -> list[tuple[Any, ...]]:
        with self._cursor() as cursor:
            cursor.execute(query)
            return list(cursor.fetchall())

    def _dicts(self, query: str) -> list[dict[str, Any]]:
        with self.connection.cursor(pymysql.cursors.DictCursor) as cursor:
            cursor.execute(query)
            return list(cursor.fetchall())

    @contextmanager
    def _cursor(self) -> Iterator[pymysql.cursors.Cursor]:
        try:
            with self.connection.cursor() as cursor:
                yield cursor
        except (pymysql.err.OperationalError, pymysql.err.InterfaceError) as error:
            # Gone away, lost, cannot connect; or a connection already closed.
            if isinstance(error, pymysql.err.InterfaceError) or _code(error) in LOST:
                raise ServerUnavailable(
                    f"lost the database server at {self.where}: {_message(error) or 'closed'}"
                ) from None
            raise


def connect(settings: AdminSettings) -> Server:
    """A connection to the server as its administrator; ServerUnavailable if none."""
    try:
        if settings.host:
            connection = pymysql.connect(
                host=settings.host,
                port=settings.port,
                user=settings.user,
                password=settings.password,
                autocommit=True,
                connect_timeout=TIMEOUT,
                charset="utf8mb4",
            )
        else:
            connection = pymysql.connect(
                unix_socket=settings.socket,
                user=settings.user,
                autocommit=True,
                connect_timeout=TIMEOUT,
                charset="utf8mb4",
            )
    except pymysql.err.MySQLError as error:
        raise ServerUnavailable(
            f"cannot reach the database server at {settings.where()} as {settings.user}: "
            f"{_message(error)} (see [databases] in `ats config keys`)"
        ) from None
    return Server(connection, settings.where())


def _from_priv(priv: dict[str, Any]) -> dict[str, Any]:
    """What a user's `mysql.global_priv` JSON says of its passwords, lock, limit and
    global privileges."""
    methods = [priv, *(method for method in priv.get("auth_or", ()) if method)]
    hashes = tuple(
        str(method.get("authentication_string", ""))
        if method.get("plugin", "mysql_native_password") == "mysql_native_password"
        else ""
        for method in methods
    )
    return {
        "hashes": hashes,
        "locked": bool(priv.get("account_locked", False)),
        "global_access": int(priv.get("access", 0)),
        "max_connections": int(priv.get("max_user_connections", 0)),
    }


def _account(user: str) -> str:
    return f"'{checked_user(user)}'@'{HOST}'"


def _code(error: pymysql.err.MySQLError) -> int:
    return int(error.args[0]) if error.args and isinstance(error.args[0], int) else 0


def _message(error: pymysql.err.MySQLError) -> str:
    return str(error.args[1]) if len(error.args) > 1 else str(error)
