"""Planning one clerk cycle from what it read, pure: which requests to look at, what
else to say, what is due, and the text the page should become.

The clerk reads the page, the store and the history, then calls these functions in
order around judging (`bot.rules.judging`) and deciding (`bot.rules.decisions`): `select` picks the
sections that are new, edited or expiring; `triage` says which of them are judged
again; `progress`, `answer_forged` and `expire` add what the page must say about states
set elsewhere, status lines the bot did not write, and requests left too long. The rest
turn the plan into text: reply lines (`outbox_lines`), the queue summary
(`with_queue`), which closed requests to archive (`archive_due`), the edit summary and
the cycle's report (`CycleReport`).
Nothing here reads the wiki or the store; every fact comes in as an argument.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from bot.rules import echoes, page, queue, replies
from bot.rules.judging import fields_hash
from bot.rules.messages import Catalog
from bot.rules.planned import ForgedLine, Planned
from bot.rules.provenance import Origin
from bot.rules.settings import ClerkSettings
from membership.lifecycle import EXPIRES, is_open
from membership.records import RequestRecord
from membership.states import CLOSED, REEVALUATED_ON_EDIT, State

ForeignLines = Mapping[str, Sequence[tuple[str, str, Origin | None]]]


@dataclass
class CycleReport:
    """What one cycle did, for the log line and the dry-run diff."""

    status: str = "unchanged"  # unchanged | saved | nothing-to-say | dry-run | stopped
    reason: str = ""
    revid: int | None = None
    requests: int = 0
    examined: list[str] = field(default_factory=list)
    replies: list[tuple[str, str]] = field(default_factory=list)  # (request key, state)
    archived: list[str] = field(default_factory=list)
    conflicts: int = 0
    diff: str = ""

    def summary(self) -> str:
        if self.status == "stopped":
            return f"stopped: {self.reason}"
        if self.status == "unchanged":
            return f"unchanged: the page is still at revision {self.revid}; nothing to do"
        states = Counter(state for _, state in self.replies)
        told = ", ".join(f"{n} {s}" for s, n in sorted(states.items())) or "no replies"
        extra = f", {len(self.archived)} archived" if self.archived else ""
        if self.conflicts:
            extra += f", {self.conflicts} edit conflicts retried"
        return (
            f"{self.status}: {self.requests} requests on the page, "
            f"{len(self.examined)} examined, {told}{extra}"
        )


# -- what to look at -------------------------------------------------------------------


def select(
    parsed: page.RequestPage,
    records: Mapping[str, RequestRecord],
    now: datetime,
    settings: ClerkSettings,
) -> list[Planned]:
    """An empty plan for each request section that is new, edited, not judged yet or
    expiring; the others are as the store knows them."""
    planned: list[Planned] = []
    for section in parsed.requests:
        record = records.get(section.key)
        expiring = record is not None and expired(record, now, settings)
        if (
            record
            and record.content_hash == section.content_hash
            and record.state != State.RECEIVED
            and not expiring
        ):
            continue
        values = {
            "fields": dict(section.fields or {}),
            "content_hash": section.content_hash,
            "heading": section.heading,
            "fields_hash": fields_hash(section),
        }
        planned.append(Planned(section, record, values))
    return planned


def triage(planned: list[Planned], bot_user: str) -> tuple[list[Planned], list[Planned]]:
    """The items to judge (new, not judged yet, or edited where an edit counts) and,
    among them, the approved ones whose approval the edit voids."""
    to_judge, edited_after = [], []
    for item in planned:
        record = item.record
        if record is None or record.state == State.RECEIVED:
            to_judge.append(item)
        elif record.fields_hash != item.values["fields_hash"]:
            if record.state in CLOSED:
                item.audit.append((bot_user, "edited-closed", {}))
            elif record.approved_by:
                edited_after.append(item)
                to_judge.append(item)
            elif record.state in REEVALUATED_ON_EDIT:
                to_judge.append(item)
            else:
                item.audit.append((bot_user, "edited", {}))
    return to_judge, edited_after


def void_approvals(edited_after: Iterable[Planned], bot_user: str) -> None:
    """An approved request edited afterwards loses its approval, and says so."""
    for item in edited_after:
        item.values.update(approved_by=None, override=None, approval_revid=None)
        catalog = Catalog(item.values.get("lang", "en"))
        if item.replies:
            state, text = item.replies[-1]
            item.replies[-1] = (state, replies.prefixed(catalog, "edited_after_decision", text))
        item.audit.append((bot_user, "approval-voided-by-edit", {}))


# -- what else to say ------------------------------------------------------------------


@dataclass(frozen=True)
class Owed:
    """A request whose state moved off-wiki: its record, the state the bot said last,
    and (a done tool request) the login its requester types."""

    record: RequestRecord
    said: str
    login: str = ""


# A state that tells the requester nothing the last reply did not: after "approved, the
# account will be created shortly" (or "failed, it is tried again"), "creating the
# account now" is not worth a line; the next one they read is "done".
FOLDED = {State.PROVISIONING: frozenset({State.APPROVED, State.FAILED})}


# The states a requester's own steps on the bridge move a request between: a reply about
# them waits until the steps have rested `progress_settle` seconds, so someone who logs
# in and then accepts the terms, adds a key and pays gets one reply, not one per step.
SETTLING = frozenset({State.AWAITING_REQUESTER, State.AWAITING_APPROVAL})


def settled(due: Owed, now: datetime, settings: ClerkSettings) -> bool:
    """Whether the reply `due` may be said now (see `SETTLING`)."""
    record = due.record
    if record.state not in SETTLING or not record.progress_at:
        return True
    quiet = now - datetime.fromisoformat(record.progress_at)
    return quiet.total_seconds() >= settings.progress_settle


def progress(
    parsed: page.RequestPage,
    planned: list[Planned],
    owed: Iterable[Owed],
    now: datetime,
    settings: ClerkSettings,
) -> None:
    """Say on-wiki what moved off-wiki: `owed`, the states the bridge (or provisioning)
    set that the page does not show yet. One reply per state the requester is told,
    however many gate steps were done between two cycles or while they had not rested
    (`settled`); a state folded into the last reply (`FOLDED`) is recorded as said
    without a line."""
    s = settings
    busy = {p.section.key for p in planned}
    for due in owed:
        record = due.record
        section = parsed.get(record.key)
        if section is None or record.key in busy or not settled(due, now, s):
            continue
        values = {}
        if record.state in CLOSED and not record.closed_at:
            values["closed_at"] = now.isoformat(timespec="seconds")
        item = Planned(section, record, values)
        planned.append(item)
        if due.said in FOLDED.get(State(record.state), ()):
            item.audit.append(
                (s.bot_user, "progress-folded", {"state": record.state, "said": due.said})
            )
            continue
        account = str(record.detail.get("account", ""))
        text = replies.progress(
            Catalog(record.lang, s.content_lang),
            record.state,
            json.loads(record.gates or "{}"),
            requester=record.subject or record.requester,
            admin=record.approved_by or "",
            bridge_url=s.bridge_url,
            account=account,
            login_host=s.login_host,
            login=due.login,
            tool=account.removeprefix("tools.") if record.type == "tool" else "",
        )
        item.replies.append((record.state, text))
        item.audit.append((s.bot_user, "said-progress", {"state": record.state}))


def answer_forged(
    parsed: page.RequestPage,
    records: Mapping[str, RequestRecord],
    planned: list[Planned],
    foreign: ForeignLines,
    answered: set[tuple[str, str]],
    bot_user: str,
) -> None:
    """Answer, once each, status lines the bot did not write (`foreign`, by section
    key), with the real state; `answered` holds the (key, token) answered before."""
    by_key = {p.section.key: p for p in planned}
    for section in parsed.requests:
        for token, line, origin in foreign.get(section.key, ()):
            if (section.key, token) in answered:
                continue
            item = by_key.get(section.key)
            if item is None:
                item = by_key[section.key] = Planned(section, records.get(section.key), {})
                planned.append(item)
            author = origin.user if origin else ""
            state = item.state or str(State.RECEIVED)
            item.replies.append(
                (state, replies.forged_status(Catalog(item.lang), bot_user, author, state))
            )
            revid = origin.revid if origin else None
            item.audit.append((author or "?", "forged-status-line", {"revid": revid, "line": line}))
            item.forged.append(ForgedLine(section.key, token, author, revid, line))


def expire(planned: Iterable[Planned], now: datetime, settings: ClerkSettings) -> None:
    """Requests left waiting longer than the settings allow are closed as expired."""
    for item in planned:
        if item.record and expired(item.record, now, settings) and not item.changed_state():
            days = settings.expire_after_days
            catalog = Catalog(item.record.lang, settings.content_lang)
            item.set_state(State.EXPIRED, replies.expired(catalog, days))
            item.audit.append((settings.bot_user, "expired", {"days": days}))


# -- what is due -----------------------------------------------------------------------


def expired(record: RequestRecord, now: datetime, settings: ClerkSettings) -> bool:
    if record.state not in EXPIRES or not record.progress_at:
        return False
    since = datetime.fromisoformat(record.progress_at)
    return now - since > timedelta(days=settings.expire_after_days)


def archivable(record: RequestRecord, now: datetime, settings: ClerkSettings) -> bool:
    if record.state not in CLOSED or not record.closed_at or record.archived_at:
        return False
    since = datetime.fromisoformat(record.closed_at)
    return now - since >= timedelta(days=settings.archive_after_days)


def timed_work(records: Iterable[RequestRecord], now: datetime, settings: ClerkSettings) -> bool:
    """Work waiting even though nobody edited the page: a request not judged yet, one
    expiring, one old enough to archive."""
    return any(
        r.state == State.RECEIVED or expired(r, now, settings) or archivable(r, now, settings)
        for r in records
    )


def archive_due(
    records: Mapping[str, RequestRecord],
    planned: Iterable[Planned],
    pending_keys: Iterable[str],
    now: datetime,
    settings: ClerkSettings,
) -> dict[str, datetime]:
    """When each closed request old enough to archive closed, by key; a request with
    something to say this cycle (or still waiting to say it) stays a cycle longer."""
    busy = {p.section.key for p in planned if p.replies or p.changed_state()}
    busy |= set(pending_keys)
    return {
        key: datetime.fromisoformat(r.closed_at or "")
        for key, r in records.items()
        if key not in busy and archivable(r, now, settings)
    }


@dataclass(frozen=True)
class Damage:
    """The page looks blanked or vandalised: the cycle stops and says why."""

    missing: list[str]
    open: int
    message: str


def damage(
    parsed: page.RequestPage, records: Mapping[str, RequestRecord], request_page: str
) -> Damage | None:
    """Why the page must not be acted on (blanked, most requests gone), or None."""
    known = [r for r in records.values() if is_open(r.state)]
    present = {s.key for s in parsed.requests}
    missing = [r.key for r in known if r.key not in present]
    blanked = bool(known) and not parsed.requests
    if not blanked and not (len(missing) >= 2 and 2 * len(missing) > len(known)):
        return None
    return Damage(
        missing,
        len(known),
        f"{request_page} looks blanked or vandalised: {len(missing)} of "
        f"{len(known)} open requests are missing; nothing is done until it is "
        "restored (the store keeps every request)",
    )


# -- the text --------------------------------------------------------------------------


def rekeyed(parsed: page.RequestPage, identities: Sequence[str]) -> page.RequestPage:
    """`parsed` (the page read, perhaps with replies added) keyed by identity."""
    sections = tuple(replace(r, key=i) for r, i in zip(parsed.requests, identities, strict=True))
    return page.RequestPage(parsed.text, sections, parsed.discussions)


def wanted_replies(planned: Iterable[Planned]) -> dict[str, list[tuple[str, str]]]:
    """The replies planned for each section, by key."""
    wanted: dict[str, list[tuple[str, str]]] = {}
    for item in planned:
        wanted.setdefault(item.section.key, []).extend(item.replies)
    return wanted


def outbox_lines(
    parsed: page.RequestPage,
    planned: Iterable[Planned],
    pending: Iterable[Any],
    echoed: Iterable[echoes.Echo],
    keys: Mapping[int, str],
    vocab: page.Vocabulary,
) -> tuple[dict[str, list[str]], list[int]]:
    """Reply lines to add per section, and the pending replies already on the page.
    `echoed` are planned replies the bot's account already put there unknown to this
    store; `keys` gives the section key of each request id."""
    lines: dict[str, list[str]] = {}
    already: list[int] = []
    for reply in pending:
        key = keys.get(reply.request_id)
        section = parsed.get(key) if key else None
        if section is None:
            continue  # the section is not on the page: keep the reply for later
        prefix = replies.reply_prefix(vocab.status_template, reply.state, reply.text)
        if any(r.line.lstrip(":*").startswith(prefix.lstrip(":")) for r in section.replies):
            already.append(reply.id)
        else:
            lines.setdefault(section.key, []).append(
                replies.reply_line(vocab.status_template, reply.state, reply.text)
            )
    unsaid = Counter((e.key, e.state, e.text) for e in echoed)
    for item in planned:
        for state, text in item.replies:
            if unsaid[(item.section.key, state, text)] > 0:
                unsaid[(item.section.key, state, text)] -= 1
                continue
            lines.setdefault(item.section.key, []).append(
                replies.reply_line(vocab.status_template, state, text)
            )
    return lines, already


def with_queue(
    text: str,
    sections: Iterable[page.RequestSection],
    records: Mapping[str, RequestRecord],
    planned: Iterable[Planned],
    heading_keys: Mapping[str, str],
    now: datetime,
    settings: ClerkSettings,
) -> str:
    """The page with its queue summary brought up to date (only when saving anyway)."""
    by_key = {p.section.key: p for p in planned}
    entries = []
    for section in sections:
        record, item = records.get(section.key), by_key.get(section.key)
        state = item.state if item else (record.state if record else State.RECEIVED)
        if not is_open(state):
            continue
        created = datetime.fromisoformat(record.created_at) if record else now
        requester = item.requester if item else (record.requester if record else "")
        entries.append(
            queue.QueueEntry(
                heading_keys.get(section.key, section.key),
                section.heading,
                str(state),
                requester,
                max(0, (now - created).days),
            )
        )
    region = queue.render_queue(
        entries,
        backlog_days=settings.backlog_days,
        status_template=settings.vocab.status_template,
    )
    return queue.apply_queue(text, region)


def summary(posted: list[tuple[str, str]], archived: list[str], content_lang: str = "") -> str:
    """The edit summary, in the wiki's content language (its readers see it in the
    history): how many replies of which states, how many archived."""
    states = Counter(state for _, state in posted)
    catalog = Catalog(content_lang, content_lang)
    count = len(posted)
    text = catalog.text(
        "summary",
        "replies",
        count=count,
        states=", ".join(f"{n} {s}" for s, n in sorted(states.items())),
    )
    if archived:
        text += catalog.text("summary", "archived", count=len(archived))
    return text


def archive_summary(page: str, content_lang: str = "") -> str:
    """The edit summary of an archive page's save, in the wiki's content language."""
    return Catalog(content_lang, content_lang).text("summary", "archiving", page=page)
