"""Migrations of the tool databases: what the databases service last measured of each
account's databases (0021).

Each function is one named step of `schema.STEPS` and stays as it was first written.
"""

from __future__ import annotations

from sqlite_utils import Database


def database_usage(db: Database) -> None:
    # What the databases service observed, replaced at each measurement: one row per
    # account the store wants a database user for (its total, 0 without databases) and
    # one per database. `limit_bytes` is the limit in force when measured. `over`,
    # `over_since` and `crossings` carry over from one measurement to the next: a
    # measurement that finds the total over the limit while the row was not counts one
    # more crossing, and the notices about it are written in the same transaction, so
    # each crossing is told exactly once.
    db.table("database_accounts").create(
        {
            "user": str,
            "kind": str,
            "name": str,
            "owner": str,
            "total": int,
            "limit_bytes": int,
            "over": int,
            "over_since": str,
            "crossings": int,
            "observed_at": str,
        },
        pk="user",
        not_null={"kind", "name", "owner", "total", "limit_bytes", "over", "crossings"}
        | {"observed_at"},
        defaults={"total": 0, "limit_bytes": 0, "over": 0, "crossings": 0},
    )
    db.table("database_sizes").create(
        {"user": str, "name": str, "size": int},
        pk=("user", "name"),
        not_null={"size"},
        foreign_keys=[("user", "database_accounts", "user")],
    )
    db.table("database_accounts").create_index(["kind", "name"])
