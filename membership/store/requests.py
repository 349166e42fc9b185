"""The requests room: each request found on a request page, the page's last revision read,
and the cursors where a follower of the wiki's changes stopped reading.

A request is keyed by its page and its identity on the page (`key`, the revision that
first held it and its position there); its template fields and what the last
evaluation found (`detail`) are kept as JSON. `on_behalf` says whether the account
is for someone other than the requester, and `subject_key` is the subject as MediaWiki
writes the name (`policies.usernames.canonical_username`, which the wiki's template
does not enforce): both follow any change of `subject`, here, the only writer of them.
A member's requests are found by `subject_key` (indexed); a change to
`canonical_username` needs a migration that recomputes it, as 0022 first did.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from membership.records import RequestRecord, RequestSummary
from membership.store.connection import _AMONG, Query, StoreConnection, _array, each
from policies.times import iso
from policies.usernames import canonical_username

# What a list of requests shows of each (`RequestSummary`).
SUMMARY_COLUMNS = (
    "id",
    "heading",
    "requester",
    "subject",
    "type",
    "state",
    "intro_timestamp",
    "created_at",
)


class RequestsRoom(StoreConnection):
    # -- pages ---------------------------------------------------------------------

    def page_revision(self, page: str) -> int | None:
        row = self._first("pages", "page = ?", [page])
        return row["last_revid"] if row else None

    def set_page_revision(self, page: str, revid: int, timestamp: str) -> None:
        self.db.table("pages").upsert(
            {"page": page, "last_revid": revid, "last_timestamp": timestamp, "updated_at": iso()},
            pk="page",
        )

    # -- requests ------------------------------------------------------------------

    def request(self, page: str, key: str) -> RequestRecord | None:
        row = self._first("requests", "page = ? AND key = ?", [page, key])
        return RequestRecord.from_row(row) if row else None

    def request_by_id(self, request_id: int) -> RequestRecord | None:
        row = self._first("requests", "id = ?", [request_id])
        return RequestRecord.from_row(row) if row else None

    def requests(
        self, page: str | None = None, state: str | None = None, type: str | None = None
    ) -> list[RequestRecord]:
        return self.answer(self.requests_query(page, state, type))

    def requests_query(
        self, page: str | None = None, state: str | None = None, type: str | None = None
    ) -> Query[list[RequestRecord]]:
        """`requests`, as a query to read with others (`read`)."""
        return self._later_matching(
            "requests", each(RequestRecord.from_row), page=page, state=state, type=type
        )

    def add_request(
        self,
        *,
        page: str,
        key: str,
        heading: str,
        requester: str,
        subject: str,
        type: str,
        fields: Mapping[str, str],
        content_hash: str,
        intro_revid: int | None,
        intro_timestamp: str | None,
        state: str,
        detail: Mapping[str, Any],
        lang: str = "en",
    ) -> RequestRecord:
        stamp = iso()
        with self.transaction():
            request_id = self._insert(
                "requests",
                {
                    "page": page,
                    "key": key,
                    "heading": heading,
                    "requester": requester,
                    "subject": subject,
                    "subject_key": canonical_username(subject or ""),
                    "on_behalf": int(subject != requester),
                    "type": type,
                    "fields": json.dumps(dict(fields), ensure_ascii=False),
                    "content_hash": content_hash,
                    "intro_revid": intro_revid,
                    "intro_timestamp": intro_timestamp,
                    "state": state,
                    "detail": json.dumps(detail, ensure_ascii=False, default=str),
                    "lang": lang,
                    "created_at": stamp,
                    "updated_at": stamp,
                },
            )
        record = self.request_by_id(request_id)
        assert record is not None
        return record

    def update_request(self, request_id: int, **changes: Any) -> RequestRecord:
        """Change columns of one request; `fields` and `detail` may be given as mappings."""
        for name in ("fields", "detail"):
            if name in changes and not isinstance(changes[name], str):
                changes[name] = json.dumps(dict(changes[name]), ensure_ascii=False, default=str)
        if "subject" in changes and "requester" not in changes:
            current = self.request_by_id(request_id)
            assert current is not None
            changes["on_behalf"] = int(changes["subject"] != current.requester)
        if "subject" in changes:
            changes["subject_key"] = canonical_username(changes["subject"] or "")
        changes["updated_at"] = iso()
        self._update("requests", request_id, changes)
        record = self.request_by_id(request_id)
        assert record is not None
        return record

    # -- cursors (where a follower stopped reading) --------------------------------

    def cursor(self, name: str) -> str | None:
        row = self._first("cursors", "name = ?", [name])
        return row["value"] if row else None

    def set_cursor(self, name: str, value: str) -> None:
        self.db.table("cursors").upsert(
            {"name": name, "value": value, "updated_at": iso()}, pk="name"
        )

    def request_counts(self) -> dict[str, int]:
        """Requests by state (for /metrics)."""
        rows = self.db.execute("SELECT state, count(*) FROM requests GROUP BY state")
        return {str(key): int(n) for key, n in rows.fetchall()}

    def request_summaries(self, state: str | None = None) -> list[RequestSummary]:
        """Every request (or those in `state`) as a list shows it, in order of filing:
        the columns the lists read, the JSON columns left undecoded."""
        where, args = ("state = ?", [state]) if state is not None else (None, [])
        rows = self._rows("requests", where, args, columns=SUMMARY_COLUMNS)
        return [RequestSummary(**row) for row in rows]

    def requests_listed(
        self,
        *,
        states: Collection[str] = (),
        other_than: Collection[str] = (),
        created_until: str | None = None,
        limit: int,
        offset: int = 0,
    ) -> list[RequestRecord]:
        """A page of the requests in one of `states` (any state when none is named), in
        none of `other_than` and created no later than `created_until` (an ISO moment), in
        order of filing: `limit` of them from the `offset`-th. `requests_counted` counts
        all of them."""
        where, args = _listed(states, other_than, created_until)
        rows = self._rows("requests", where, args, limit=limit, offset=offset)
        return [RequestRecord.from_row(row) for row in rows]

    def requests_counted(
        self,
        *,
        states: Collection[str] = (),
        other_than: Collection[str] = (),
        created_until: str | None = None,
    ) -> int:
        """How many requests `requests_listed` pages through with the same filters."""
        where, args = _listed(states, other_than, created_until)
        sql = "SELECT count(*) FROM requests"
        (count,) = self.db.conn.execute(f"{sql} WHERE {where}" if where else sql, args).fetchone()
        return int(count)

    def summaries_among(self, request_ids: Iterable[int]) -> list[RequestSummary]:
        """The requests of these ids as a list shows them, in order of filing."""
        rows = self._rows(
            "requests", f"id {_AMONG}", [_array(request_ids)], columns=SUMMARY_COLUMNS
        )
        return [RequestSummary(**row) for row in rows]

    def subjects_counted(self, subjects: Iterable[str], states: Collection[str]) -> dict[str, int]:
        """How many requests in one of `states` each of `subjects` is the subject of (as
        the request names them; those with none are left out)."""
        rows = self.db.conn.execute(
            f"SELECT subject, count(*) FROM requests WHERE subject {_AMONG} "  # noqa: S608
            f"AND state {_AMONG} GROUP BY subject",
            [_array(subjects), _array(states)],
        )
        return {str(subject): int(n) for subject, n in rows.fetchall()}

    def requests_for(self, username: str) -> list[RequestRecord]:
        """The requests whose subject is `username` once both are written as MediaWiki
        writes a name (`canonical_username`), newest first."""
        return self.answer(self.requests_for_query(username))

    def requests_for_query(self, username: str) -> Query[list[RequestRecord]]:
        """`requests_for`, as a query to read with others (`read`)."""
        key = canonical_username(username)
        return self._later(
            "requests", "subject_key = ?", [key], each(RequestRecord.from_row), order_by="id DESC"
        )


def _listed(
    states: Collection[str], other_than: Collection[str], created_until: str | None
) -> tuple[str | None, list[Any]]:
    """The WHERE clause (None for every request) and its values, of the filters of
    `requests_listed`."""
    clauses, args = [], []
    if states:
        clauses.append(f"state {_AMONG}")
        args.append(_array(states))
    if other_than:
        clauses.append(f"state NOT {_AMONG}")
        args.append(_array(other_than))
    if created_until is not None:
        clauses.append("created_at <= ?")
        args.append(created_until)
    return (" AND ".join(clauses) or None), args
