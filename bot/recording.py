"""Writing what a cycle planned to the store: requests, replies, archives, echoes.

The clerk calls these, inside its transactions, after judging and deciding have
planned everything (`bot.rules.planned.Planned`) and before the page is saved; nothing here
decides anything, and nothing here reads the wiki.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from bot.rules import echoes
from bot.rules.planned import Planned
from bot.rules.planning import Owed, settled
from bot.rules.settings import ClerkSettings
from membership.records import RequestRecord
from membership.states import CLOSED, State
from membership.store import Store


def record(store: Store, request_page: str, item: Planned, now: datetime) -> RequestRecord:
    """Write one planned item: the request, its decisions, audit entries, replies and
    the status lines it answered."""
    stamp = now.isoformat(timespec="seconds")
    values = dict(item.values)
    if item.changed_state() or item.decisions:
        values["progress_at"] = stamp
    if item.changed_state() and values["state"] in CLOSED:
        values["closed_at"] = stamp
    if item.record is None:
        values.setdefault("state", str(State.RECEIVED))
        values.setdefault("progress_at", stamp)
        record = store.add_request(
            page=request_page,
            key=item.section.key,
            heading=item.section.heading,
            **_add_args(values),
        )
        extra = {k: values[k] for k in _LATER_COLUMNS if values.get(k) is not None}
        if extra:
            record = store.update_request(record.id, **extra)
        store.audit(
            values.get("requester") or "?",
            "filed",
            record.id,
            revid=values.get("intro_revid"),
            key=item.section.key,
        )
    else:
        record = store.update_request(item.record.id, **_update_args(values))
    for actor, action, evidence in item.audit:
        store.audit(actor, action, record.id, **evidence)
        if action == "progress-folded":
            store.fold_reply(record.id, evidence["state"])
    for decision in item.decisions:
        store.add_decision(record.id, **decision)
    for state, text in item.replies:
        store.queue_reply(record.id, state, text)
    for forged in item.forged:
        store.record_forged_line(
            request_page,
            forged.key,
            forged.token,
            request_id=record.id,
            author=forged.author,
            revid=forged.revid,
            line=forged.line,
        )
    return record


def mark_archived(
    store: Store, bot_user: str, record: RequestRecord, title: str, now: datetime, revid: int | None
) -> None:
    # The key is freed for a new request with the same heading.
    with store.transaction():
        store.update_request(
            record.id,
            archived_at=now.isoformat(timespec="seconds"),
            archive_page=title,
            key=f"{record.key}\x1farchived:{record.id}",
        )
        store.audit(bot_user, "archived", record.id, archive=title, revid=revid)


def mark_echoes(
    store: Store,
    request_page: str,
    bot_user: str,
    echoed: list[echoes.Echo],
    key_of: Callable[[int], str | None],
) -> None:
    """Record as posted, in the revision that holds them, the replies just queued
    that are already on the page."""
    if not echoed:
        return
    queued = store.pending_replies(request_page)
    for echo in echoed:
        match = next(
            (
                r
                for r in queued
                if (r.state, r.text) == (echo.state, echo.text) and key_of(r.request_id) == echo.key
            ),
            None,
        )
        if match is not None:
            queued.remove(match)
            with store.transaction():
                store.mark_posted([match.id], echo.revid)
                store.audit(
                    bot_user,
                    "reply-already-posted",
                    match.request_id,
                    revid=echo.revid,
                    state=echo.state,
                )


_ADD_KEYS = (
    "requester",
    "subject",
    "type",
    "fields",
    "content_hash",
    "intro_revid",
    "intro_timestamp",
    "state",
    "detail",
    "lang",
)
_LATER_COLUMNS = (
    "progress_at",
    "closed_at",
    "approved_by",
    "override",
    "approval_revid",
    "fields_hash",
)
_UPDATE_KEYS = (
    "heading",
    "subject",
    "type",
    "fields",
    "content_hash",
    "state",
    "detail",
    "lang",
    *_LATER_COLUMNS,
)


def _add_args(values: dict[str, Any]) -> dict[str, Any]:
    args = {k: values.get(k) for k in _ADD_KEYS}
    args["requester"] = args["requester"] or ""
    args["subject"] = args["subject"] or args["requester"]
    args["type"] = args["type"] or ""
    args["lang"] = args["lang"] or "en"
    args["fields"] = args["fields"] or {}
    args["detail"] = args["detail"] or {}
    return args


def _update_args(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k in _UPDATE_KEYS}


def progress_due(store: Store, settings: ClerkSettings, now: datetime) -> bool:
    """Whether a progress reply may be said now (one owed, and its steps have rested)."""
    return any(settled(due, now, settings) for due in owed(store, settings.page))


def owed(store: Store, request_page: str) -> list[Owed]:
    """The progress replies the bot owes on `request_page` (states the bridge or
    provisioning set that the page does not show yet), with what was said last and
    the login a done tool request's requester types (their own account's)."""
    found = []
    for rec in store.unsaid(request_page):
        last = store.last_reply(rec.id)
        login = ""
        if rec.type == "tool" and rec.state == State.DONE:
            held = store.account_of(rec.subject or rec.requester)
            login = held.shell_name if held else ""
        found.append(Owed(rec, last.state if last else "", login))
    return found
