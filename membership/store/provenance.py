"""The provenance room: what the bot remembers of the wiki between cycles.

Who wrote what on a request page (bot/rules/provenance.py's walk, advanced from its cursor),
the status lines found not written by the bot and answered once, what each request
section's text says by its digest (a cache: a new process parses only the sections
that changed), and the wiki's facts about users (a cache with a maximum age).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from membership.store.connection import StoreConnection
from policies.times import iso


class ProvenanceRoom(StoreConnection):
    # -- page provenance (0008) ----------------------------------------------------

    def provenance(self, page: str) -> dict[str, Any] | None:
        """The saved provenance walk of a page (bot/rules/provenance.py), or None."""
        row = self._first("page_provenance", "page = ?", [page])
        return json.loads(row["state"]) if row else None

    def save_provenance(self, page: str, cursor: int, state: Mapping[str, Any]) -> None:
        self.db.table("page_provenance").upsert(
            {
                "page": page,
                "cursor": cursor,
                "state": json.dumps(state, ensure_ascii=False, separators=(",", ":")),
                "updated_at": iso(),
            },
            pk="page",
        )

    def forged_line_answered(self, page: str, identity: str, token: str) -> bool:
        where = "page = ? AND identity = ? AND token = ?"
        return self._first("forged_lines", where, [page, identity, token]) is not None

    def record_forged_line(
        self,
        page: str,
        identity: str,
        token: str,
        *,
        request_id: int | None,
        author: str,
        revid: int | None,
        line: str,
    ) -> None:
        self.db.table("forged_lines").insert(
            {
                "page": page,
                "identity": identity,
                "token": token,
                "request_id": request_id,
                "author": author,
                "revid": revid,
                "line": line,
                "at": iso(),
            },
            pk=("page", "identity", "token"),
            ignore=True,
        )

    # -- section readings (0011) ---------------------------------------------------

    def section_readings(self, page: str) -> dict[str, str]:
        """The saved readings of `page`'s sections (bot/rules/page.py), JSON by digest."""
        rows = self._rows("section_readings", "page = ?", [page], order_by=None)
        return {row["digest"]: row["reading"] for row in rows}

    def save_section_readings(self, page: str, readings: Mapping[str, str], keep: int) -> None:
        """Add readings; beyond `keep` rows for the page, the oldest go (a cache)."""
        if not readings:
            return
        stamp = iso()
        with self.transaction():
            self.db.conn.executemany(
                "INSERT OR IGNORE INTO section_readings (page, digest, reading, created_at) "
                "VALUES (?, ?, ?, ?)",
                [(page, digest, reading, stamp) for digest, reading in readings.items()],
            )
            self.db.conn.execute(
                "DELETE FROM section_readings WHERE page = ? AND digest IN ("
                "  SELECT digest FROM section_readings WHERE page = ?"
                "  ORDER BY created_at DESC, rowid DESC LIMIT -1 OFFSET ?)",
                [page, page, keep],
            )

    # -- user look-up cache --------------------------------------------------------

    def cached_user(self, name: str, max_age: timedelta) -> dict[str, Any] | None:
        row = self._first("users", "name = ?", [name])
        if not row:
            return None
        fetched = datetime.fromisoformat(row["fetched_at"])
        if datetime.now(UTC) - fetched > max_age:
            return None
        record: dict[str, Any] = json.loads(row["record"])
        return record

    def cache_user(self, name: str, record: Mapping[str, Any]) -> None:
        self.db.conn.execute(
            "INSERT INTO users (name, record, fetched_at) VALUES (?, ?, ?) "
            "ON CONFLICT(name) DO UPDATE SET record = excluded.record, "
            "fetched_at = excluded.fetched_at",
            [name, json.dumps(record, ensure_ascii=False, default=str), iso()],
        )
