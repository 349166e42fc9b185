"""The audit room: the append-only audit log.

Every action on a request or a member is one entry: when, who, what, about which
request (if any), and its evidence as JSON. The log refuses updates and deletes
(triggers of 0001); the queries here read it by request, by member, by a value of
the evidence and by action.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from membership.records import AuditEntry
from membership.store.connection import StoreConnection
from policies.times import iso


class AuditRoom(StoreConnection):
    def audit(
        self, actor: str, action: str, request_id: int | None = None, **evidence: Any
    ) -> None:
        self._insert(
            "audit",
            {
                "at": iso(),
                "actor": actor,
                "request_id": request_id,
                "action": action,
                "evidence": json.dumps(evidence, ensure_ascii=False, default=str, sort_keys=True),
            },
        )

    def audit_log(self, request_id: int | None = None) -> list[AuditEntry]:
        return [AuditEntry.from_row(row) for row in self._matching("audit", request_id=request_id)]

    def member_audit(self, username: str) -> list[AuditEntry]:
        """The entries about `username` that belong to no request, oldest first: what
        admins recorded about them (`subject`) and what they did themselves (an entry
        of theirs about nobody else: terms, keys, a waiver asked)."""
        rows = self._query(
            "SELECT * FROM audit WHERE request_id IS NULL AND ("
            "  json_extract(evidence, '$.subject') = ?"
            "  OR (actor = ? AND json_extract(evidence, '$.subject') IS NULL)) ORDER BY id",
            [username, username],
        )
        return [AuditEntry.from_row(row) for row in rows]

    def audit_about(self, key: str, value: str, actions: Sequence[str]) -> list[AuditEntry]:
        """The entries of these `actions` whose evidence says `key` is `value`, oldest first."""
        marks = ", ".join("?" for _ in actions)
        rows = self._rows(
            "audit",
            f"action IN ({marks}) AND json_extract(evidence, ?) = ?",
            [*actions, f"$.{key}", value],
        )
        return [AuditEntry.from_row(row) for row in rows]

    def audit_count(self, action: str) -> int:
        """How many audit entries record `action`."""
        return int(self.db.table("audit").count_where("action = ?", [action]))
