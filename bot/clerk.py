"""One clerk cycle: read the request page, judge what changed, reply, remember.

A cycle reads the request page and the kill-switch page in one query; if the page
has not changed since the last cycle and no reply is waiting, it stops there. Else
it parses the page, finds who added each new request (from the history), validates
and judges new or edited requests, and writes every reply it owes into the store's
outbox before saving them all in a single edit based on the revision it read. A
human edit in between makes the save fail (edit conflict): the cycle reads again
and retries, so no human text is ever overwritten. Replies already visible on the
page (a crash after the save) are recognised and marked posted, never repeated.
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from bot import attribution, page, replies, wiki
from bot.exclusion import bot_may_edit
from bot.messages import Catalog
from membership.states import REEVALUATED_ON_EDIT, State
from membership.store import RequestRecord, Store
from policies.eligibility import Block, EligibilityPolicy, UserRecord, evaluate
from policies.requests import validate

Checkpoint = Callable[[str], None]
STEPS = ("read", "planned", "recorded", "saved", "done")


class ClerkError(RuntimeError):
    """The cycle cannot run (missing page, no permission); the message says why."""


@dataclass(frozen=True)
class ClerkSettings:
    page: str
    bot_user: str
    bridge_url: str
    policy: EligibilityPolicy
    run_page: str = ""
    vocab: page.Vocabulary = page.DEFAULT_VOCABULARY
    user_cache: timedelta = timedelta(hours=24)
    conflict_retries: int = 3


@dataclass
class CycleReport:
    status: str = "unchanged"  # unchanged | saved | nothing-to-say | dry-run | stopped
    reason: str = ""
    revid: int | None = None
    requests: int = 0
    examined: list[str] = field(default_factory=list)
    replies: list[tuple[str, str]] = field(default_factory=list)  # (request key, state)
    conflicts: int = 0
    diff: str = ""

    def summary(self) -> str:
        if self.status == "stopped":
            return f"stopped: {self.reason}"
        if self.status == "unchanged":
            return f"unchanged: the page is still at revision {self.revid}; nothing to do"
        states = Counter(state for _, state in self.replies)
        told = ", ".join(f"{n} {s}" for s, n in sorted(states.items())) or "no replies"
        return (
            f"{self.status}: {self.requests} requests on the page, "
            f"{len(self.examined)} examined, {told}"
            + (f", {self.conflicts} edit conflicts retried" if self.conflicts else "")
        )


@dataclass
class _Planned:
    """What the cycle decided about one request section, before anything is written."""

    section: page.RequestSection
    record: RequestRecord | None
    values: dict[str, Any]
    reply: tuple[str, str] | None = None  # (state, text)
    audit: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)


class Clerk:
    def __init__(
        self,
        site: Any,
        store: Store,
        settings: ClerkSettings,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        checkpoint: Checkpoint | None = None,
    ) -> None:
        self.site = site
        self.store = store
        self.settings = settings
        self.now = now
        self.checkpoint = checkpoint or (lambda step: None)

    # -- the cycle -------------------------------------------------------------

    def run_once(self, *, dry_run: bool = False) -> CycleReport:
        report = CycleReport()
        for attempt in range(self.settings.conflict_retries + 1):
            try:
                return self._cycle(report, dry_run)
            except wiki.EditConflict:
                report.conflicts += 1
                self.store.audit(
                    self.settings.bot_user,
                    "edit-conflict",
                    page=self.settings.page,
                    attempt=attempt + 1,
                )
        raise ClerkError(
            f"{self.settings.page} kept changing: gave up after "
            f"{report.conflicts} edit conflicts; the next cycle will try again"
        )

    def _cycle(self, report: CycleReport, dry_run: bool) -> CycleReport:
        s = self.settings
        titles = [s.page] + ([s.run_page] if s.run_page else [])
        read = wiki.read_pages(self.site, titles)
        self.checkpoint("read")
        current = read.pages[s.page]
        if s.run_page and read.pages[s.run_page].text.strip().lower() != "true":
            return _stopped(report, f"the kill-switch page {s.run_page} does not read 'true'")
        if not current.exists:
            raise ClerkError(f"the request page {s.page} does not exist on the wiki")
        if not bot_may_edit(current.text, s.bot_user):
            return _stopped(report, f"{s.page} excludes this bot with {{{{bots}}}}/{{{{nobots}}}}")
        report.revid = current.revid
        pending = self.store.pending_replies(s.page)
        retry = self.store.requests(s.page, state=str(State.RECEIVED))
        if current.revid == self.store.page_revision(s.page) and not pending and not retry:
            report.status = "unchanged"
            return report

        parsed = page.parse(current.text, s.vocab)
        report.requests = len(parsed.requests)
        planned = self._plan(parsed, current)
        report.examined = [p.section.key for p in planned]
        lines, posted_already = self._outbox_lines(parsed, planned, pending)
        new_text = page.render(parsed, lines) if lines else current.text
        report.replies = [
            (key, _state_of(line, s.vocab)) for key, ls in lines.items() for line in ls
        ]
        self.checkpoint("planned")
        if dry_run:
            report.status = "dry-run"
            report.diff = "".join(
                difflib.unified_diff(
                    current.text.splitlines(keepends=True),
                    new_text.splitlines(keepends=True),
                    f"{s.page} (revision {current.revid})",
                    f"{s.page} (with the bot's replies)",
                )
            )
            return report

        with self.store.transaction():
            for item in planned:
                self._record(item)
            if posted_already:
                self.store.mark_posted(posted_already, current.revid or 0)
        queued = self.store.pending_replies(s.page)
        self.checkpoint("recorded")
        if not lines:
            self.store.set_page_revision(s.page, current.revid or 0, current.timestamp or "")
            report.status = "nothing-to-say"
            return report

        revid = wiki.save(
            self.site,
            s.page,
            new_text,
            base=current,
            started=read.now,
            summary=self._summary(report.replies),
        )
        self.checkpoint("saved")
        with self.store.transaction():
            posted = [r.id for r in queued if self._is_in(r.request_id, lines)]
            self.store.mark_posted(posted, revid)
            self.store.set_page_revision(s.page, revid, "")
            self.store.audit(
                s.bot_user, "saved", page=s.page, revid=revid, replies=len(report.replies)
            )
        self.checkpoint("done")
        report.status, report.revid = "saved", revid
        return report

    # -- deciding ----------------------------------------------------------------

    def _plan(self, parsed: page.RequestPage, current: wiki.PageRevision) -> list[_Planned]:
        s = self.settings
        planned: list[_Planned] = []
        for section in parsed.requests:
            record = self.store.request(s.page, section.key)
            unchanged = record and record.content_hash == section.content_hash
            if unchanged and record.state != State.RECEIVED:
                continue
            values = _section_values(section)
            item = _Planned(section, record, values)
            if record and record.state not in REEVALUATED_ON_EDIT:
                item.audit.append((s.bot_user, "edited", {"content_hash": section.content_hash}))
            planned.append(item)
        new = [p for p in planned if p.record is None]
        if new:
            self._attribute(new, current)
        self._judge(
            [p for p in planned if p.record is None or p.record.state in REEVALUATED_ON_EDIT]
        )
        return planned

    def _attribute(self, items: list[_Planned], current: wiki.PageRevision) -> None:
        s = self.settings
        since = self.store.page_revision(s.page)
        keys_in = lambda text: page.request_keys(text, s.vocab)  # noqa: E731
        fetch = lambda revids: wiki.revision_texts(self.site, revids)  # noqa: E731
        history = _upto(wiki.history(self.site, s.page, after_revid=since), current.revid)
        found = attribution.introductions(history, [i.section.key for i in items], fetch, keys_in)
        missing = [i.section.key for i in items if i.section.key not in found]
        if missing and since:
            full = _upto(wiki.history(self.site, s.page), current.revid)
            found.update(attribution.introductions(full, missing, fetch, keys_in))
        for item in items:
            rev = found.get(item.section.key)
            item.values.update(
                requester=rev.user if rev else "",
                intro_revid=rev.revid if rev else None,
                intro_timestamp=rev.timestamp if rev else None,
            )
            item.audit.append(
                (
                    s.bot_user,
                    "attributed",
                    {
                        "requester": rev.user if rev else None,
                        "revid": rev.revid if rev else None,
                        "signed": item.section.signed,
                    },
                )
            )

    def _judge(self, items: list[_Planned]) -> None:
        s = self.settings
        now = self.now()
        to_check: list[_Planned] = []
        for item in items:
            requester = item.values.get("requester") or (
                item.record.requester if item.record else ""
            )
            fields = item.section.fields or {}
            subject = _canonical(fields.get("username", "")) or requester
            item.values.update(
                subject=subject,
                type=fields.get("type", "").strip().lower(),
                lang=(fields.get("lang") or "en").strip() or "en",
            )
            catalog = Catalog(item.values["lang"])
            problems = validate(item.section.fields, item.section.template_count)
            if problems:
                text = replies.invalid(catalog, problems, requester or subject)
                self._decide(item, State.INVALID, text, {"problems": [p.code for p in problems]})
            elif not subject:
                self._decide(
                    item,
                    State.RECEIVED,
                    replies.received(catalog, "the page history does not show who added it"),
                    {"reason": "unattributed"},
                )
            else:
                to_check.append(item)
        if not to_check:
            return
        users = self._users([i.values["subject"] for i in to_check], now)
        for item in to_check:
            catalog = Catalog(item.values["lang"])
            subject = item.values["subject"]
            user = users.get(subject)
            if isinstance(user, str):  # the look-up failed; try again next cycle
                self._decide(
                    item, State.RECEIVED, replies.received(catalog, user), {"reason": user}
                )
                continue
            verdict = evaluate(s.policy, user, now)
            evidence = {"verdict": [c.__dict__ for c in verdict.criteria], "source": user.source}
            if verdict.eligible:
                text = replies.awaiting_identity(catalog, verdict, now, subject, s.bridge_url)
                state = State.AWAITING_IDENTITY
            else:
                text = replies.not_eligible(catalog, verdict, now)
                state = State.NOT_ELIGIBLE
            requester = item.values.get("requester") or (
                item.record.requester if item.record else ""
            )
            if requester and requester != subject:
                text = replies.on_behalf(catalog, requester, subject) + " " + text
            self._decide(item, state, text, evidence)

    def _decide(self, item: _Planned, state: State, text: str, evidence: dict[str, Any]) -> None:
        item.values.update(state=str(state), detail=evidence)
        last = self.store.last_reply(item.record.id) if item.record else None
        if last is None or (last.state, last.text) != (str(state), text):
            item.reply = (str(state), text)
        item.audit.append((self.settings.bot_user, f"evaluated:{state}", evidence))

    def _users(self, names: list[str], now: datetime) -> dict[str, UserRecord | str]:
        """UserRecords by name, from the cache or the wiki; a string where it failed."""
        s = self.settings
        found: dict[str, UserRecord | str] = {}
        for name in names:
            cached = self.store.cached_user(name, s.user_cache)
            if cached is not None:
                found[name] = _record_from_cache(cached)
        wanted = [n for n in dict.fromkeys(names) if n not in found]
        if not wanted:
            return found
        try:
            if wiki.has_central_auth(self.site):
                fetched = {n: wiki.global_user(self.site, n) for n in wanted}
                counts = wiki.recent_counts(
                    self.site,
                    [n for n, r in fetched.items() if r.status == "ok"],
                    needed=s.policy.recent_edits,
                    since=now - timedelta(days=s.policy.recent_window_days),
                    now=now,
                )

                fetched = {
                    n: replace(r, recent_edits=counts.get(r.name, 0)) for n, r in fetched.items()
                }
            else:
                fetched = wiki.local_users(
                    self.site,
                    wanted,
                    recent_needed=s.policy.recent_edits,
                    window_days=s.policy.recent_window_days,
                    now=now,
                )
        except wiki.WikiError as error:
            return found | {n: f"the wiki did not answer the user look-up: {error}" for n in wanted}
        for name in wanted:
            record = fetched.get(name) or UserRecord(name, status="missing")
            found[name] = record
            self.store.cache_user(name, _record_to_cache(record))
        return found

    # -- writing -----------------------------------------------------------------

    def _record(self, item: _Planned) -> None:
        s = self.settings
        values = dict(item.values)
        if item.record is None:
            values.setdefault("state", str(State.RECEIVED))
            values.setdefault("detail", {})
            values.setdefault("subject", values.get("requester", ""))
            record = self.store.add_request(
                page=s.page, key=item.section.key, heading=item.section.heading, **_add_args(values)
            )
            self.store.audit(
                values.get("requester") or "?",
                "filed",
                record.id,
                revid=values.get("intro_revid"),
                key=item.section.key,
            )
        else:
            record = self.store.update_request(item.record.id, **_update_args(values))
        for actor, action, evidence in item.audit:
            self.store.audit(actor, action, record.id, **evidence)
        if item.reply:
            self.store.queue_reply(record.id, *item.reply)

    def _outbox_lines(
        self, parsed: page.RequestPage, planned: list[_Planned], pending: list[Any]
    ) -> tuple[dict[str, list[str]], list[int]]:
        """Reply lines to add per section, and pending replies already on the page."""
        vocab = self.settings.vocab
        planned_ids = {p.record.id for p in planned if p.record and p.reply}
        lines: dict[str, list[str]] = {}
        already: list[int] = []
        for reply in pending:
            if reply.request_id in planned_ids:
                continue  # superseded by this cycle's new reply
            record = self.store.request_by_id(reply.request_id)
            section = parsed.get(record.key) if record else None
            if section is None:
                continue  # the section is gone from the page: keep it for later
            prefix = replies.reply_prefix(vocab.status_template, reply.state, reply.text)
            if any(r.line.lstrip(":*").startswith(prefix.lstrip(":")) for r in section.replies):
                already.append(reply.id)
            else:
                lines.setdefault(section.key, []).append(
                    replies.reply_line(vocab.status_template, reply.state, reply.text)
                )
        for item in planned:
            if item.reply:
                lines.setdefault(item.section.key, []).append(
                    replies.reply_line(vocab.status_template, *item.reply)
                )
        return lines, already

    def _is_in(self, request_id: int, lines: Mapping[str, list[str]]) -> bool:
        record = self.store.request_by_id(request_id)
        return bool(record and record.key in lines)

    def _summary(self, posted: list[tuple[str, str]]) -> str:
        states = Counter(state for _, state in posted)
        catalog = Catalog()
        count = len(posted)
        return catalog.text(
            "summary",
            "replies",
            count=count,
            count_word=catalog.text("summary", "reply_word" if count == 1 else "replies_word"),
            states=", ".join(f"{n} {s}" for s, n in sorted(states.items())),
        )


def _stopped(report: CycleReport, reason: str) -> CycleReport:
    report.status, report.reason = "stopped", reason
    return report


def _section_values(section: page.RequestSection) -> dict[str, Any]:
    return {
        "fields": dict(section.fields or {}),
        "content_hash": section.content_hash,
        "heading": section.heading,
    }


def _state_of(line: str, vocab: page.Vocabulary) -> str:
    start = line.find("|") + 1
    return line[start : line.find("}}", start)]


def _upto(history: list[wiki.RevisionMeta], revid: int | None) -> list[wiki.RevisionMeta]:
    if revid is None:
        return history
    return [r for r in history if r.revid <= revid]


def _canonical(name: str) -> str:
    name = " ".join(name.replace("_", " ").split())
    for prefix in ("User:", "user:"):
        name = name.removeprefix(prefix)
    return name[:1].upper() + name[1:]


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


def _add_args(values: Mapping[str, Any]) -> dict[str, Any]:
    args = {k: values.get(k) for k in _ADD_KEYS}
    args["requester"] = args["requester"] or ""
    args["subject"] = args["subject"] or args["requester"]
    args["type"] = args["type"] or ""
    args["lang"] = args["lang"] or "en"
    return args


def _update_args(values: Mapping[str, Any]) -> dict[str, Any]:
    allowed = ("heading", "subject", "type", "fields", "content_hash", "state", "detail", "lang")
    return {k: v for k, v in values.items() if k in allowed}


def _record_to_cache(record: UserRecord) -> dict[str, Any]:
    data = dict(record.__dict__)
    data["registration"] = record.registration.isoformat() if record.registration else None
    data["blocks"] = [b.__dict__ for b in record.blocks]
    return data


def _record_from_cache(data: Mapping[str, Any]) -> UserRecord:
    values = dict(data)
    if values.get("registration"):
        values["registration"] = datetime.fromisoformat(values["registration"])
    values["blocks"] = tuple(Block(**b) for b in values.get("blocks", []))
    values["groups"] = tuple(values.get("groups", ()))
    return UserRecord(**values)
