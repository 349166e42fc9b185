"""The database usage room: what the databases service last measured of each account's
tool databases (databases/sizes.py writes it; the jobs service's `toolforge jobs quota`,
the bridge's tool page and the admins' desk read it, never the database server).

A measurement replaces the one before as a whole (`record_database_usage`): an account
the store no longer wants a user for, or a database dropped since, is gone with it. The
caller writes it inside its own transaction, with what it tells of the accounts that went
over the limit, so a measurement and its notices are recorded together or not at all.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from membership.records import DatabaseUsage
from membership.store.connection import StoreConnection


class DatabaseUsageRoom(StoreConnection):
    def record_database_usage(self, usages: Sequence[DatabaseUsage]) -> None:
        """`usages` become what is known of every account's databases."""
        with self.transaction():
            self._changed("DELETE FROM database_sizes", [])
            self._changed("DELETE FROM database_accounts", [])
            for usage in usages:
                self._insert(
                    "database_accounts",
                    {
                        "user": usage.user,
                        "kind": usage.kind,
                        "name": usage.name,
                        "owner": usage.owner,
                        "total": usage.total,
                        "limit_bytes": usage.limit,
                        "over": int(usage.over),
                        "over_since": usage.over_since,
                        "crossings": usage.crossings,
                        "observed_at": usage.observed_at,
                    },
                )
                for name, size in usage.databases:
                    self._insert("database_sizes", {"user": usage.user, "name": name, "size": size})

    def database_usage(self, *, over: bool | None = None) -> list[DatabaseUsage]:
        """Every account's usage as last measured (only those over the limit, or under
        it, when `over` is given), by database user."""
        where = None if over is None else "over = ?"
        args = [] if over is None else [int(over)]
        rows = self._rows("database_accounts", where, args, order_by="user")
        sizes: dict[str, list[tuple[str, int]]] = defaultdict(list)
        for row in self._rows("database_sizes", order_by="user, name"):
            sizes[row["user"]].append((row["name"], int(row["size"])))
        return [DatabaseUsage.from_row(row, tuple(sizes[row["user"]])) for row in rows]

    def database_usage_of(self, kind: str, name: str) -> DatabaseUsage | None:
        """The usage of the tool or member (`kind`) named `name`; None before it was
        measured."""
        row = self._first("database_accounts", "kind = ? AND name = ?", [kind, name])
        if row is None:
            return None
        found = self._rows("database_sizes", "user = ?", [row["user"]], order_by="name")
        databases = tuple((found_row["name"], int(found_row["size"])) for found_row in found)
        return DatabaseUsage.from_row(row, databases)

    def database_usage_measured_at(self) -> str | None:
        """When the databases were last measured (None: never)."""
        rows = self._query("SELECT MAX(observed_at) AS at FROM database_accounts")
        return rows[0]["at"] if rows else None

    def databases_over_limit_count(self) -> int:
        return int(self.db.table("database_accounts").count_where("over = 1"))
