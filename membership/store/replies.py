"""The replies room: the bot's outbox of replies, and the decisions found on the page.

A reply is queued as pending before the page is saved and marked posted with the
revision id after, so a crash in between neither loses nor duplicates one. A decision
template is recorded once (request, wikitext and the n-th identical one), with who
introduced it and whether it was honoured. A state another process set that tells
the requester nothing new is recorded as `folded` (said, never posted), so it is owed
once. The audit log is a room of its own (`audit.py`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from membership.records import DecisionRecord, ReplyRecord, RequestRecord
from membership.store.connection import StoreConnection
from policies.times import iso


class RepliesRoom(StoreConnection):
    # -- replies (the outbox) ------------------------------------------------------

    def queue_reply(self, request_id: int, state: str, text: str) -> ReplyRecord:
        """Queue a reply to be posted; every queued reply is posted once, in order."""
        reply_id = self._insert(
            "replies",
            {
                "request_id": request_id,
                "state": state,
                "text": text,
                "status": "pending",
                "created_at": iso(),
            },
        )
        row = self._first("replies", "id = ?", [reply_id])
        assert row is not None
        return ReplyRecord(**row)

    def fold_reply(self, request_id: int, state: str) -> None:
        """Record `state` as said without posting a line: the last reply already told the
        requester all it would (status `folded`, never posted)."""
        self._insert(
            "replies",
            {
                "request_id": request_id,
                "state": state,
                "text": "",
                "status": "folded",
                "created_at": iso(),
            },
        )

    def pending_replies(self, page: str) -> list[ReplyRecord]:
        rows = self._query(
            "SELECT replies.* FROM replies JOIN requests ON requests.id = replies.request_id "
            "WHERE requests.page = ? AND replies.status = 'pending' ORDER BY replies.id",
            [page],
        )
        return [ReplyRecord(**row) for row in rows]

    def mark_posted(self, reply_ids: list[int], revid: int) -> None:
        with self.transaction():
            for reply_id in reply_ids:
                self._update(
                    "replies",
                    reply_id,
                    {"status": "posted", "posted_revid": revid, "posted_at": iso()},
                )

    def replies(self, request_id: int) -> list[ReplyRecord]:
        return [ReplyRecord(**row) for row in self._matching("replies", request_id=request_id)]

    def last_reply(self, request_id: int) -> ReplyRecord | None:
        """The newest reply that is posted or about to be."""
        row = self._first(
            "replies",
            "request_id = ? AND status != 'superseded'",
            [request_id],
            order_by="id DESC",
        )
        return ReplyRecord(**row) if row else None

    def unsaid(self, page: str) -> list[RequestRecord]:
        """Open requests on `page` whose state differs from the last reply about them.

        Another process (the bridge, provisioning) moved them; the bot owes a reply.
        """
        rows = self._query(
            "SELECT requests.* FROM requests JOIN replies ON replies.id = ("
            "  SELECT id FROM replies r WHERE r.request_id = requests.id"
            "  AND r.status != 'superseded' ORDER BY r.id DESC LIMIT 1) "
            "WHERE requests.page = ? AND requests.archived_at IS NULL "
            "AND replies.state != requests.state ORDER BY requests.id",
            [page],
        )
        return [RequestRecord.from_row(row) for row in rows]

    # -- decisions -----------------------------------------------------------------

    def decision(self, request_id: int, wikitext: str, ordinal: int) -> DecisionRecord | None:
        row = self._first(
            "decisions",
            "request_id = ? AND wikitext = ? AND ordinal = ?",
            [request_id, wikitext, ordinal],
        )
        return DecisionRecord.from_row(row) if row else None

    def add_decision(
        self,
        request_id: int,
        *,
        kind: str,
        params: Mapping[str, str],
        wikitext: str,
        ordinal: int,
        revid: int | None,
        actor: str,
        honoured: bool,
        reason: str,
    ) -> DecisionRecord:
        with self.transaction():
            self._insert(
                "decisions",
                {
                    "request_id": request_id,
                    "kind": kind,
                    "params": json.dumps(dict(params), ensure_ascii=False),
                    "wikitext": wikitext,
                    "ordinal": ordinal,
                    "revid": revid,
                    "actor": actor,
                    "honoured": int(honoured),
                    "reason": reason,
                    "created_at": iso(),
                },
            )
        record = self.decision(request_id, wikitext, ordinal)
        assert record is not None
        return record

    def decisions(self, request_id: int) -> list[DecisionRecord]:
        rows = self._matching("decisions", request_id=request_id)
        return [DecisionRecord.from_row(row) for row in rows]

    def reply_counts(self) -> dict[str, int]:
        """Replies by status (for /metrics)."""
        rows = self.db.execute("SELECT status, count(*) FROM replies GROUP BY status")
        return {str(key): int(n) for key, n in rows.fetchall()}

    def decision_counts(self) -> dict[tuple[str, bool], int]:
        """Decisions by kind and whether they were honoured (for /metrics)."""
        rows = self.db.execute(
            "SELECT kind, coalesce(honoured, 0), count(*) FROM decisions GROUP BY 1, 2"
        )
        return {(str(kind), bool(honoured)): int(n) for kind, honoured, n in rows.fetchall()}

    def first_decided(self, kinds: Sequence[str]) -> dict[int, str]:
        """When each request first met an honoured decision of one of `kinds`, by request
        id (the store's moments are all written alike, so the text's order is time's)."""
        marks = ", ".join("?" for _ in kinds)
        rows = self.db.execute(
            "SELECT request_id, min(created_at) FROM decisions "  # noqa: S608 - only marks
            f"WHERE honoured = 1 AND kind IN ({marks}) GROUP BY request_id",
            list(kinds),
        )
        return {int(request_id): str(at) for request_id, at in rows.fetchall()}
