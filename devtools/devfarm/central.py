"""CentralAuth's side of the farm: its central database (``centralauth.sqlite``), written
and read directly (its tables, the stewards' global group, global accounts' registration
dates, their lock and hiding), the stewards' API action that locks and hides; and the
farm's error.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import requests

from devtools.devwiki import client
from devtools.devwiki.php import DevWikiError

STEWARD = "Steward"
STEWARD_GROUP = "steward"
# Locking needs centralauth-lock; hiding (and seeing a hidden account) centralauth-suppress.
STEWARD_RIGHTS = ("centralauth-lock", "centralauth-suppress")


class DevFarmError(DevWikiError):
    """The local farm could not be built, started, seeded or driven."""


def connect(db_path: Path) -> contextlib.closing[sqlite3.Connection]:
    return contextlib.closing(sqlite3.connect(db_path, timeout=30))


def create_tables(db_path: Path, extension_dir: Path) -> None:
    """CentralAuth's tables, from the extension's own SQLite schema."""
    schema = extension_dir / "CentralAuth" / "schema" / "sqlite" / "tables-generated.sql"
    try:
        sql = schema.read_text(encoding="utf-8").replace("/*_*/", "")
    except OSError as exc:
        raise DevFarmError(f"cannot read CentralAuth's schema {schema}: {exc}") from exc
    with contextlib.closing(sqlite3.connect(db_path)) as db:
        db.executescript(sql)


def grant_steward(db_path: Path) -> None:
    """Put the global account ``STEWARD`` in the global group that may lock and hide."""
    with connect(db_path) as db, db:
        row = db.execute("SELECT gu_id FROM globaluser WHERE gu_name = ?", (STEWARD,)).fetchone()
        if row is None:
            raise DevFarmError(f"no global account {STEWARD!r} in {db_path}")
        for right in STEWARD_RIGHTS:
            db.execute(
                "INSERT OR IGNORE INTO global_group_permissions VALUES (?, ?)",
                (STEWARD_GROUP, right),
            )
        db.execute(
            "INSERT OR IGNORE INTO global_user_groups (gug_user, gug_group) VALUES (?, ?)",
            (row[0], STEWARD_GROUP),
        )


def set_registrations(db_path: Path, registrations: Mapping[str, str]) -> None:
    """Global accounts' registration timestamps, by name."""
    with connect(db_path) as db, db:
        for name, stamp in registrations.items():
            db.execute("UPDATE globaluser SET gu_registration = ? WHERE gu_name = ?", (stamp, name))


def global_status(db_path: Path, name: str) -> tuple[bool, int] | None:
    """(locked, hidden level) of ``name``'s global account; None if there is no such
    account."""
    with connect(db_path) as db:
        row = db.execute(
            "SELECT gu_locked, gu_hidden_level FROM globaluser WHERE gu_name = ?", (name,)
        ).fetchone()
    return None if row is None else (bool(row[0]), int(row[1]))


def already(current: tuple[bool, int], params: Mapping[str, str]) -> bool:
    """Whether an account whose (locked, hidden level) is ``current`` already is what the
    ``setglobalaccountstatus`` parameters ``params`` ask for."""
    wanted_lock = {"lock": True, "unlock": False}.get(params.get("locked", ""))
    wanted_hidden = {"": 0, "lists": 1, "suppressed": 2}.get(params.get("hidden", "-"))
    return (wanted_lock is None or wanted_lock == current[0]) and (
        wanted_hidden is None or wanted_hidden == current[1]
    )


def set_account_status(
    session: requests.Session, api_url: str, name: str, params: Mapping[str, str]
) -> None:
    """``action=setglobalaccountstatus`` for ``name`` in a steward's ``session``."""
    data: dict[str, Any] = {
        "action": "setglobalaccountstatus",
        "user": name,
        "token": client.token(session, api_url, "setglobalaccountstatus"),
        "format": "json",
        "formatversion": 2,
        **params,
    }
    result = session.post(api_url, data=data, timeout=30).json()
    if "error" in result or "setglobalaccountstatus" not in result:
        raise DevFarmError(f"setglobalaccountstatus {dict(params)} for {name!r} failed: {result}")
