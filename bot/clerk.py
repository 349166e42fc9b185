"""One clerk cycle: read the request page, judge what changed, reply, remember.

A cycle reads the request page and the kill-switch page in one query; if the page
has not changed since the last cycle and nothing is waiting or due, it stops there.
Else it parses the page, follows the page history since the last cycle
(`bot.authorship`) to key each request by its identity, refuses to act on a page
that looks blanked or vandalised, and plans: who added each new request, what each
new or edited request is worth (`bot.judging`), which new decision templates were
added by someone allowed to add them (`bot.deciding`), which requests expired and
which closed ones are old enough to archive, and which status lines the bot did not
write (answered once with the real state). Everything it will say goes into the store's outbox in
one transaction before the page is saved, in a single edit based on the revision it
read: a human edit in between makes the save fail (edit conflict), and the cycle
reads again and retries, so no human text is ever overwritten. Archive pages are
saved before the sections leave the request page. Replies already visible on the
page (a crash after the save) are recognised and marked posted, never repeated.
"""

from __future__ import annotations

import difflib
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from bot import archive, authorship, echoes, page, queue, replies, wiki
from bot.deciding import Deciding
from bot.exclusion import bot_may_edit
from bot.judging import Judging, Planned, fields_hash
from bot.messages import Catalog
from membership import health, lease
from membership.lifecycle import EXPIRES, is_open
from membership.states import CLOSED, REEVALUATED_ON_EDIT, State
from membership.store import RequestRecord, Store
from policies.eligibility import EligibilityPolicy

Checkpoint = Callable[[str], None]
STEPS = ("read", "planned", "recorded", "archived", "saved", "done")


class ClerkError(RuntimeError):
    """The cycle cannot run (missing page, no permission); the message says why."""


@dataclass(frozen=True)
class ClerkSettings:
    page: str
    bot_user: str
    bridge_url: str
    policy: EligibilityPolicy
    run_page: str = ""
    # The field `page` above hides the module from the checker (not at run time).
    vocab: page.Vocabulary = page.DEFAULT_VOCABULARY  # type: ignore[name-defined,attr-defined]
    user_cache: timedelta = timedelta(hours=24)
    conflict_retries: int = 3
    expire_after_days: int = 60
    archive_after_days: int = 7
    backlog_days: int = 7
    login_host: str = ""
    edit_interval: float = 0.0  # seconds between two saves, counted from the store's last


@dataclass
class CycleReport:
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


class Clerk:
    def __init__(
        self,
        site: Any,
        store: Store,
        settings: ClerkSettings,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        checkpoint: Checkpoint | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.site = site
        self.sleep = sleep
        self.store = store
        self._keys: dict[int, str] = {}  # request id -> section key, for the current cycle
        self._readings_known = False
        self._identities: list[str] = []  # identity of each request section, page order
        self._heading_keys: dict[str, str] = {}  # identity -> key by heading (queue anchors)
        self._forged: dict[int, list[tuple[str, str, str, int | None, str]]] = {}
        self.settings = settings
        self.now = now
        self.checkpoint = checkpoint or (lambda step: None)
        self.judging = Judging(site, store, settings)
        self.deciding = Deciding(site, store, settings, self.judging)

    def run_once(self, *, dry_run: bool = False) -> CycleReport:
        report = CycleReport()
        for attempt in range(self.settings.conflict_retries + 1):
            try:
                done = self._cycle(report, dry_run)
                if not dry_run and done.status != "stopped":
                    health.record_cycle(self.store, self.now())  # /metrics reads it
                return done
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

    # -- the cycle ---------------------------------------------------------------

    def _cycle(self, report: CycleReport, dry_run: bool) -> CycleReport:
        s = self.settings
        now = self.now()
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
        records = {r.key: r for r in self.store.requests(s.page) if not r.archived_at}
        self._keys = {r.id: r.key for r in records.values()}
        pending = self.store.pending_replies(s.page)
        unchanged = current.revid == self.store.page_revision(s.page)
        if unchanged and not pending and not self._due(records.values(), now):
            report.status = "unchanged"
            return report

        if not self._readings_known:  # what earlier processes read: parse only what changed
            page.known_readings(self.store.section_readings(s.page))
            self._readings_known = True
        parsed = self._identify(page.parse(current.text, s.vocab), current, records)
        records = {r.key: r for r in self.store.requests(s.page) if not r.archived_at}
        self._keys = {r.id: r.key for r in records.values()}
        report.requests = len(parsed.requests)
        damage = self._damage(parsed, records)
        if damage:
            return _stopped(report, damage)
        planned = self._plan(parsed, records, current, now)
        report.examined = [p.section.key for p in planned]
        lines, posted_already, echoed = self._outbox_lines(parsed, planned, pending)
        text = page.render(parsed, lines) if lines else current.text
        self._settled: list[tuple[RequestRecord, str]] = []
        moves = self._archive_plan(text, records, planned, pending, now)
        if moves is not None:
            text = moves.page_text
            report.archived = [m.key for m in moves.moves]
        if text != current.text:
            staying = [r for r in parsed.requests if r.key not in set(report.archived)]
            text = self._with_queue(text, staying, records, planned, now)
        report.replies = [(key, _state_of(line)) for key, ls in lines.items() for line in ls]
        self.checkpoint("planned")
        if dry_run:
            report.status = "dry-run"
            report.diff = "".join(
                difflib.unified_diff(
                    current.text.splitlines(keepends=True),
                    text.splitlines(keepends=True),
                    f"{s.page} (revision {current.revid})",
                    f"{s.page} (as the bot would save it)",
                )
            )
            return report

        with self.store.transaction():
            for item in planned:
                record = self.judging.record(item, now)
                for key, token, author, revid, line in self._forged.get(id(item), ()):
                    self.store.record_forged_line(
                        s.page,
                        key,
                        token,
                        request_id=record.id,
                        author=author,
                        revid=revid,
                        line=line,
                    )
            if posted_already:
                self.store.mark_posted(posted_already, current.revid or 0)
            self._mark_echoes(echoed)
            for record, title in self._settled:
                self._mark_archived(record, title, now, current.revid)
        keep = 2000 + 3 * len(parsed.requests)
        self.store.save_section_readings(s.page, page.new_readings(), keep)
        queued = self.store.pending_replies(s.page)
        self.checkpoint("recorded")
        if text == current.text:
            self.store.set_page_revision(s.page, current.revid or 0, current.timestamp or "")
            report.status = "nothing-to-say"
            return report

        if moves is not None:
            self._save_archives(moves)
            self.checkpoint("archived")
        if self._pace() and wiki.latest_revid(self.site, s.page) != current.revid:
            raise wiki.EditConflict(f"{s.page} was edited while the bot waited to save")
        saved = wiki.save(
            self.site,
            s.page,
            text,
            base=current,
            started=read.now,
            summary=self._summary(report.replies, report.archived),
        )
        revid = saved.revid
        self.checkpoint("saved")
        with self.store.transaction():
            keys_in_lines = set(lines)
            posted = [r.id for r in queued if self._key_of(r.request_id) in keys_in_lines]
            self.store.mark_posted(posted, revid)
            lease.record_saved(self.store, s.page, datetime.now(UTC))
            if moves is not None:
                for move in moves.moves:
                    self._mark_archived(records[move.key], move.archive_title, now, revid)
            # A merged save holds edits this cycle never read: the next cycle must read
            # the history from the revision this one did.
            known = (current.revid or 0) if saved.merged else revid
            self.store.set_page_revision(s.page, known, "")
            self.store.audit(
                s.bot_user,
                "saved",
                page=s.page,
                revid=revid,
                replies=len(report.replies),
                archived=len(report.archived),
                merged=saved.merged,
            )
        self.checkpoint("done")
        report.status, report.revid = "saved", revid
        return report

    # -- planning ------------------------------------------------------------------

    def _plan(
        self,
        parsed: page.RequestPage,
        records: dict[str, RequestRecord],
        current: wiki.PageRevision,
        now: datetime,
    ) -> list[Planned]:
        planned: list[Planned] = []
        for section in parsed.requests:
            record = records.get(section.key)
            expiring = record is not None and self._expired(record, now)
            if (
                record
                and record.content_hash == section.content_hash
                and record.state != State.RECEIVED
                and not expiring
            ):
                continue
            item = Planned(
                section,
                record,
                {
                    "fields": dict(section.fields or {}),
                    "content_hash": section.content_hash,
                    "heading": section.heading,
                    "fields_hash": fields_hash(section),
                },
            )
            planned.append(item)
        self.judging.attribute([p for p in planned if p.record is None])
        to_judge, edited_after = [], []
        for item in planned:
            record = item.record
            if record is None or record.state == State.RECEIVED:
                to_judge.append(item)
            elif record.fields_hash != item.values["fields_hash"]:
                if record.state in CLOSED:
                    item.audit.append((self.settings.bot_user, "edited-closed", {}))
                elif record.approved_by:
                    edited_after.append(item)
                    to_judge.append(item)
                elif record.state in REEVALUATED_ON_EDIT:
                    to_judge.append(item)
                else:
                    item.audit.append((self.settings.bot_user, "edited", {}))
        self.judging.judge(to_judge, now)
        for item in edited_after:
            item.values.update(approved_by=None, override=None, approval_revid=None)
            catalog = Catalog(item.values.get("lang", "en"))
            if item.replies:
                state, text = item.replies[-1]
                item.replies[-1] = (state, replies.prefixed(catalog, "edited_after_decision", text))
            item.audit.append((self.settings.bot_user, "approval-voided-by-edit", {}))
        self.deciding.apply(planned, current, now)
        self._progress(parsed, planned)
        self._answer_forged(parsed, records, planned)
        for item in planned:
            if item.record and self._expired(item.record, now) and not item.changed_state():
                days = self.settings.expire_after_days
                catalog = Catalog(item.record.lang)
                item.set_state(State.EXPIRED, replies.expired(catalog, days))
                item.audit.append((self.settings.bot_user, "expired", {"days": days}))
        return planned

    # -- identities and authors (bot.authorship) -----------------------------------

    def _identify(
        self,
        parsed: page.RequestPage,
        current: wiki.PageRevision,
        records: dict[str, RequestRecord],
    ) -> page.RequestPage:
        """The page with each request keyed by its identity, from the page history.

        Records of a store that keyed requests by heading ("X", "X #2") are rebound,
        once, to the identity of the section that has that key now.
        """
        state = self.judging.authorship.follow(current)
        identities = state.current()
        if state.cursor != current.revid or len(identities) != len(parsed.requests):
            raise ClerkError(
                f"the history of {self.settings.page} does not end at the revision read "
                f"({current.revid}); the next cycle reads it again"
            )
        self._identities = identities
        self._heading_keys = {i: r.key for i, r in zip(identities, parsed.requests, strict=True)}
        by_heading = {r.key: i for i, r in zip(identities, parsed.requests, strict=True)}
        for record in records.values():
            identity = by_heading.get(record.key)
            if authorship.is_identity(record.key) or identity is None or identity in records:
                continue
            self.store.update_request(record.id, key=identity)
            self.store.audit(
                self.settings.bot_user, "rebound", record.id, old_key=record.key, key=identity
            )
        return self._rekeyed(parsed)

    def _rekeyed(self, parsed: page.RequestPage) -> page.RequestPage:
        """`parsed` (the page read, perhaps with replies added) keyed by identity."""
        sections = tuple(
            replace(r, key=i) for r, i in zip(parsed.requests, self._identities, strict=True)
        )
        return page.RequestPage(parsed.text, sections, parsed.discussions)

    def _answer_forged(
        self, parsed: page.RequestPage, records: dict[str, RequestRecord], planned: list[Planned]
    ) -> None:
        """Answer, once each, status lines the bot did not write, with the real state."""
        s = self.settings
        self._forged = {}
        by_key = {p.section.key: p for p in planned}
        for section in parsed.requests:
            for token, line, origin in self.judging.authorship.foreign_lines(section):
                if self.store.forged_line_answered(s.page, section.key, token):
                    continue
                item = by_key.get(section.key)
                if item is None:
                    item = by_key[section.key] = Planned(section, records.get(section.key), {})
                    planned.append(item)
                author = origin.user if origin else ""
                state = item.state or str(State.RECEIVED)
                item.replies.append(
                    (state, replies.forged_status(Catalog(item.lang), s.bot_user, author, state))
                )
                revid = origin.revid if origin else None
                item.audit.append(
                    (author or "?", "forged-status-line", {"revid": revid, "line": line})
                )
                self._forged.setdefault(id(item), []).append(
                    (section.key, token, author, revid, line)
                )

    def _progress(self, parsed: page.RequestPage, planned: list[Planned]) -> None:
        """Say on-wiki what moved off-wiki: states the bridge (or provisioning) set."""
        s = self.settings
        busy = {p.section.key for p in planned}
        for record in self.store.unsaid(s.page):
            section = parsed.get(record.key)
            if section is None or record.key in busy:
                continue
            values = {}
            if record.state in CLOSED and not record.closed_at:
                values["closed_at"] = datetime.now(UTC).isoformat(timespec="seconds")
            item = Planned(section, record, values)
            text = replies.progress(
                Catalog(record.lang),
                record.state,
                json.loads(record.gates or "{}"),
                requester=record.subject or record.requester,
                admin=record.approved_by or "",
                bridge_url=s.bridge_url,
                account=str(record.detail.get("account", "")),
                login_host=s.login_host,
            )
            item.replies.append((record.state, text))
            item.audit.append((s.bot_user, "said-progress", {"state": record.state}))
            planned.append(item)

    def _expired(self, record: RequestRecord, now: datetime) -> bool:
        if record.state not in EXPIRES or not record.progress_at:
            return False
        since = datetime.fromisoformat(record.progress_at)
        return now - since > timedelta(days=self.settings.expire_after_days)

    def _archivable(self, record: RequestRecord, now: datetime) -> bool:
        if record.state not in CLOSED or not record.closed_at or record.archived_at:
            return False
        since = datetime.fromisoformat(record.closed_at)
        return now - since >= timedelta(days=self.settings.archive_after_days)

    def _due(self, records: Any, now: datetime) -> bool:
        """Work waiting even though nobody edited the page: time-based, or a state
        another process (the bridge) changed that the page does not show yet."""
        timed = any(
            r.state == State.RECEIVED or self._expired(r, now) or self._archivable(r, now)
            for r in records
        )
        return timed or bool(self.store.unsaid(self.settings.page))

    def has_local_work(self) -> bool:
        """Whether a cycle has something to do that no wiki edit will announce."""
        records = [r for r in self.store.requests(self.settings.page) if not r.archived_at]
        return bool(self.store.pending_replies(self.settings.page)) or self._due(
            records, self.now()
        )

    def _damage(self, parsed: page.RequestPage, records: dict[str, RequestRecord]) -> str:
        """Why the page must not be acted on (blanked, most requests gone), or ""."""
        known = [r for r in records.values() if is_open(r.state)]
        present = {s.key for s in parsed.requests}
        missing = [r for r in known if r.key not in present]
        blanked = bool(known) and not parsed.requests
        if blanked or (len(missing) >= 2 and 2 * len(missing) > len(known)):
            revid = str(self.store.page_revision(self.settings.page) or "")
            marker = f"damaged:{self.settings.page}"
            if self.store.cursor(marker) != f"{len(missing)}@{revid}":
                self.store.audit(
                    self.settings.bot_user,
                    "page-damaged",
                    page=self.settings.page,
                    missing=[r.key for r in missing],
                    open=len(known),
                )
                self.store.set_cursor(marker, f"{len(missing)}@{revid}")
            return (
                f"{self.settings.page} looks blanked or vandalised: {len(missing)} of "
                f"{len(known)} open requests are missing; nothing is done until it is "
                "restored (the store keeps every request)"
            )
        return ""

    # -- the outbox ------------------------------------------------------------------

    def _outbox_lines(
        self, parsed: page.RequestPage, planned: list[Planned], pending: list[Any]
    ) -> tuple[dict[str, list[str]], list[int], list[echoes.Echo]]:
        """Reply lines to add per section, pending replies already on the page, and
        planned replies the bot's account already put there unknown to this store."""
        vocab = self.settings.vocab
        lines: dict[str, list[str]] = {}
        already: list[int] = []
        for reply in pending:
            key = self._key_of(reply.request_id)
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
        echoed = self._echoes(parsed, planned)
        unsaid = Counter((e.key, e.state, e.text) for e in echoed)
        for item in planned:
            for state, text in item.replies:
                if unsaid[(item.section.key, state, text)] > 0:
                    unsaid[(item.section.key, state, text)] -= 1
                    continue
                lines.setdefault(item.section.key, []).append(
                    replies.reply_line(vocab.status_template, state, text)
                )
        return lines, already, echoed

    def _echoes(self, parsed: page.RequestPage, planned: list[Planned]) -> list[echoes.Echo]:
        """Planned replies another clerk of this bot (with another store) already saved."""
        wanted: dict[str, list[tuple[str, str]]] = {}
        for item in planned:
            wanted.setdefault(item.section.key, []).extend(item.replies)
        return echoes.find(
            parsed,
            wanted,
            status_template=self.settings.vocab.status_template,
            bot_user=self.settings.bot_user,
            known_revid=self.store.page_revision(self.settings.page),
            origins=self.judging.authorship.status_lines,
        )

    def _mark_echoes(self, echoed: list[echoes.Echo]) -> None:
        """Record as posted, in the revision that holds them, the replies just queued
        that are already on the page."""
        if not echoed:
            return
        queued = self.store.pending_replies(self.settings.page)
        for echo in echoed:
            match = next(
                (
                    r
                    for r in queued
                    if (r.state, r.text) == (echo.state, echo.text)
                    and self._key_of(r.request_id) == echo.key
                ),
                None,
            )
            if match is not None:
                queued.remove(match)
                self.store.mark_posted([match.id], echo.revid)
                self.store.audit(
                    self.settings.bot_user,
                    "reply-already-posted",
                    match.request_id,
                    revid=echo.revid,
                    state=echo.state,
                )

    def _pace(self) -> bool:
        """Wait out what remains of `edit_interval` since the bot's last save (as the
        store knows it, so restarts do not reset it); True if it waited."""
        remaining = lease.pace_remaining(
            self.store, self.settings.page, self.settings.edit_interval, datetime.now(UTC)
        )
        if remaining > 0:
            self.sleep(remaining)
        return remaining > 0

    def _key_of(self, request_id: int) -> str | None:
        """The section key of a request: from this cycle's records, else the store
        (a request first recorded in this cycle)."""
        if request_id in self._keys:
            return self._keys[request_id]
        record = self.store.request_by_id(request_id)
        return record.key if record else None

    # -- archive and queue -----------------------------------------------------------

    def _archive_plan(
        self,
        text: str,
        records: dict[str, RequestRecord],
        planned: list[Planned],
        pending: list[Any],
        now: datetime,
    ) -> archive.ArchivePlan | None:
        busy = {p.section.key for p in planned if p.replies or p.changed_state()}
        busy |= {k for r in pending if (k := self._key_of(r.request_id))}
        due = {
            key: datetime.fromisoformat(r.closed_at or "")
            for key, r in records.items()
            if key not in busy and self._archivable(r, now)
        }
        if not due:
            return None
        parsed = self._rekeyed(page.parse(text, self.settings.vocab))
        titles = sorted({archive.archive_title(self.settings.page, at) for at in due.values()})
        current = wiki.read_pages(self.site, titles).pages
        self._archive_bases = current
        plan = archive.plan_archive(
            parsed, due, {t: current[t].text for t in titles}, request_page=self.settings.page
        )
        # A section already gone from the page but present in its archive: an earlier
        # cycle saved both and died before writing that down. Record it now.
        for key, closed_at in due.items():
            title = archive.archive_title(self.settings.page, closed_at)
            heading = f"== {records[key].heading} =="
            if parsed.get(key) is None and heading in current[title].text:
                self._settled.append((records[key], title))
        return plan if plan.moves else None

    def _mark_archived(
        self, record: RequestRecord, title: str, now: datetime, revid: int | None
    ) -> None:
        # The key is freed for a new request with the same heading.
        self.store.update_request(
            record.id,
            archived_at=now.isoformat(timespec="seconds"),
            archive_page=title,
            key=f"{record.key}\x1farchived:{record.id}",
        )
        self.store.audit(self.settings.bot_user, "archived", record.id, archive=title, revid=revid)

    def _save_archives(self, plan: archive.ArchivePlan) -> None:
        for title, text in plan.archive_texts.items():
            base = self._archive_bases[title]
            if base.exists and base.text == text:
                continue  # saved by an earlier, interrupted cycle
            self._pace()
            wiki.save(
                self.site,
                title,
                text,
                base=base,
                started="",
                summary=f"Archiving closed requests from [[{self.settings.page}]]",
            )
            lease.record_saved(self.store, self.settings.page, datetime.now(UTC))

    def _with_queue(
        self,
        text: str,
        sections: list[page.RequestSection],
        records: dict[str, RequestRecord],
        planned: list[Planned],
        now: datetime,
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
                    self._heading_keys.get(section.key, section.key),
                    section.heading,
                    str(state),
                    requester,
                    max(0, (now - created).days),
                )
            )
        region = queue.render_queue(
            entries,
            backlog_days=self.settings.backlog_days,
            status_template=self.settings.vocab.status_template,
        )
        return queue.apply_queue(text, region)

    def _summary(self, posted: list[tuple[str, str]], archived: list[str]) -> str:
        states = Counter(state for _, state in posted)
        catalog = Catalog()
        count = len(posted)
        summary = catalog.text(
            "summary",
            "replies",
            count=count,
            count_word=catalog.text("summary", "reply_word" if count == 1 else "replies_word"),
            states=", ".join(f"{n} {s}" for s, n in sorted(states.items())),
        )
        if archived:
            summary += f"; archived {len(archived)} closed"
        return summary


def _stopped(report: CycleReport, reason: str) -> CycleReport:
    report.status, report.reason = "stopped", reason
    return report


def _state_of(line: str) -> str:
    start = line.find("|") + 1
    return line[start : line.find("}}", start)]
