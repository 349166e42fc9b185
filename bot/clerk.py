"""One clerk cycle: read the request page, judge what changed, reply, remember.

The clerk is the only part of the bot's cycle that talks to the wiki and the store,
and does so in a visible order: read, judge, decide, record, post. It reads the request
page and the kill-switch page in one query; if the page has not changed since the last
cycle and nothing is waiting or due, it stops there. Else it parses the page, follows
the page history since the last cycle (`bot.page_history`) to key each request by its
identity, refuses to act on a page that looks blanked or vandalised, and plans with
pure functions over what it read: which requests to look at (`bot.rules.planning`), what each
new or edited request is worth (`bot.rules.judging`, on user records looked up beforehand by
`bot.lookups`), which new decision templates were added by someone allowed to add them
(`bot.rules.decisions`), which requests expired and which closed ones are old enough to
archive, and which status lines the bot did not write (answered once with the real
state). Everything it will say goes into the store's outbox in one transaction
(`bot.recording`) before the page is saved, in a single edit based on the revision it
read: a human edit in between makes the save fail (edit conflict), and the cycle reads
again and retries, so no human text is ever overwritten. Archive pages are saved
(`bot.archive_pages`) before the sections leave the request page. Replies already
visible on the page (a crash after the save) are recognised and marked posted, never
repeated. The time comes from the caller's clock, read once per cycle (and again only
to pace saves).
"""

from __future__ import annotations

import difflib
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from bot import archive_pages, lookups, page_history, wiki
from bot.recording import mark_archived, mark_echoes, owed, progress_due, record
from bot.rules import decisions, echoes, judging, page, planning
from bot.rules.exclusion import bot_may_edit
from bot.rules.history import History, is_identity
from bot.rules.planned import Planned
from bot.rules.planning import CycleReport
from bot.rules.settings import ClerkSettings
from membership import health, lease
from membership.records import ReplyRecord, RequestRecord
from membership.store import Store
from policies.errors import Refusal

__all__ = ["STEPS", "Clerk", "ClerkError", "ClerkSettings", "CycleReport"]

Checkpoint = Callable[[str], None]
STEPS = ("read", "planned", "recorded", "archived", "saved", "done")


class ClerkError(Refusal, RuntimeError):
    """The cycle cannot run (missing page, no permission); the message says why."""


@dataclass
class Reading:
    """What one cycle read from the wiki and the store, before judging anything."""

    current: wiki.PageRevision
    started: str  # the wiki's clock when the page was read (for the save)
    parsed: page.RequestPage  # keyed by identity
    records: dict[str, RequestRecord]  # open records by key
    pending: list[ReplyRecord]
    history: History
    identities: list[str]  # identity of each request section, page order
    heading_keys: dict[str, str]  # identity -> key by heading (queue anchors)

    @property
    def keys(self) -> dict[int, str]:
        return {r.id: r.key for r in self.records.values()}


class Clerk:
    def __init__(
        self,
        site: Any,
        store: Store,
        settings: ClerkSettings,
        *,
        now: Callable[[], datetime],
        checkpoint: Checkpoint | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.site = site
        self.store = store
        self.settings = settings
        self.now = now  # the caller's clock: read once per cycle, and to pace saves
        self.sleep = sleep
        self.checkpoint = checkpoint or (lambda step: None)
        self._readings_known = False  # section readings of earlier processes loaded

    def run_once(self, *, dry_run: bool = False) -> CycleReport:
        report = CycleReport()
        for attempt in range(self.settings.conflict_retries + 1):
            try:
                done = self._cycle(report, dry_run, self.now())
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

    def has_local_work(self) -> bool:
        """Whether a cycle has something to do that no wiki edit will announce."""
        records = [r for r in self.store.requests(self.settings.page) if not r.archived_at]
        return bool(self.store.pending_replies(self.settings.page)) or self._due(
            records, self.now()
        )

    # -- the cycle: read, judge, decide, record, post -----------------------------------

    def _cycle(self, report: CycleReport, dry_run: bool, now: datetime) -> CycleReport:
        s = self.settings
        reading = self._read(report, now)
        if reading is None:
            return report
        current, parsed, records = reading.current, reading.parsed, reading.records
        planned = self._judge_and_decide(reading, now)
        report.examined = [p.section.key for p in planned]
        echoed = echoes.find(
            parsed,
            planning.wanted_replies(planned),
            status_template=s.vocab.status_template,
            bot_user=s.bot_user,
            known_revid=self.store.page_revision(s.page),
            origins=reading.history.status_lines,
        )
        keys = reading.keys
        lines, posted_already = planning.outbox_lines(
            parsed, planned, reading.pending, echoed, keys, s.vocab
        )
        text = page.render(parsed, lines) if lines else current.text
        pending_keys = [keys[r.request_id] for r in reading.pending if r.request_id in keys]
        due = planning.archive_due(records, planned, pending_keys, now, s)
        archiving = archive_pages.read(self.site, s, text, due, reading.records, reading.identities)
        if archiving.plan is not None:
            text = archiving.plan.page_text
            report.archived = [m.key for m in archiving.plan.moves]
        if text != current.text:
            staying = [r for r in parsed.requests if r.key not in set(report.archived)]
            text = planning.with_queue(
                text, staying, records, planned, reading.heading_keys, now, s
            )
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
                record(self.store, s.page, item, now)
            if posted_already:
                self.store.mark_posted(posted_already, current.revid or 0)
            mark_echoes(self.store, s.page, s.bot_user, echoed, lambda i: self._key_of(keys, i))
            for settled, title in archiving.settled:
                mark_archived(self.store, s.bot_user, settled, title, now, current.revid)
        keep = 2000 + 3 * len(parsed.requests)
        self.store.save_section_readings(s.page, page.new_readings(), keep)
        self.checkpoint("recorded")
        if text == current.text:
            self.store.set_page_revision(s.page, current.revid or 0, current.timestamp or "")
            report.status = "nothing-to-say"
            return report
        return self._post(report, reading, text, set(lines), archiving, now)

    def _read(self, report: CycleReport, now: datetime) -> Reading | None:
        """The pages, the store's records and the history, keyed by identity; None
        (with `report` saying why) when the cycle stops here."""
        s = self.settings
        titles = [s.page] + ([s.run_page] if s.run_page else [])
        read = wiki.read_pages(self.site, titles)
        self.checkpoint("read")
        current = read.pages[s.page]
        if s.run_page and read.pages[s.run_page].text.strip().lower() != "true":
            _stopped(report, f"the kill-switch page {s.run_page} does not read 'true'")
            return None
        if not current.exists:
            raise ClerkError(f"the request page {s.page} does not exist on the wiki")
        if not bot_may_edit(current.text, s.bot_user):
            _stopped(report, f"{s.page} excludes this bot with {{{{bots}}}}/{{{{nobots}}}}")
            return None
        report.revid = current.revid
        records = self._records()
        pending = self.store.pending_replies(s.page)
        unchanged = current.revid == self.store.page_revision(s.page)
        if unchanged and not pending and not self._due(records.values(), now):
            report.status = "unchanged"
            return None
        if not self._readings_known:  # what earlier processes read: parse only what changed
            page.known_readings(self.store.section_readings(s.page))
            self._readings_known = True
        parsed = page.parse(current.text, s.vocab)
        history = page_history.follow(self.site, self.store, s, current)
        identities = history.state.current()
        if history.state.cursor != current.revid or len(identities) != len(parsed.requests):
            raise ClerkError(
                f"the history of {s.page} does not end at the revision read "
                f"({current.revid}); the next cycle reads it again"
            )
        self._rebind(parsed, identities, records)
        records = self._records()
        report.requests = len(parsed.requests)
        reading = Reading(
            current,
            read.now,
            planning.rekeyed(parsed, identities),
            records,
            pending,
            history,
            identities,
            {i: r.key for i, r in zip(identities, parsed.requests, strict=True)},
        )
        damage = planning.damage(reading.parsed, records, s.page)
        if damage:
            self._note_damage(damage)
            _stopped(report, damage.message)
            return None
        return reading

    def _speaking(self) -> ClerkSettings:
        """The settings with the wiki's content language, the language of replies to a
        request that names none (or one the bot cannot write); read once."""
        if not self.settings.content_lang:
            language = wiki.content_language(self.site)
            self.settings = replace(self.settings, content_lang=language)
        return self.settings

    def _judge_and_decide(self, reading: Reading, now: datetime) -> list[Planned]:
        """The plan: each request looked at, judged on users looked up first, then the
        new decisions on it, what moved off-wiki, forged status lines, expiries."""
        s, store, history = self._speaking(), self.store, reading.history
        parsed, records = reading.parsed, reading.records
        planned = planning.select(parsed, records, now, s)
        judging.attribute([p for p in planned if p.record is None], history, s.bot_user)
        to_judge, edited_after = planning.triage(planned, s.bot_user)
        users = lookups.users(self.site, store, s, judging.lookups_needed(to_judge), now)
        last = {
            i.record.id: (reply.state, reply.text)
            for i in to_judge
            if i.record and (reply := store.last_reply(i.record.id))
        }
        judging.judge(to_judge, users, last, now, s)
        planning.void_approvals(edited_after, s.bot_user)

        known = {
            i.record.id: {(d.wikitext, d.ordinal) for d in store.decisions(i.record.id)}
            for i in planned
            if i.record
        }
        found = decisions.new_decisions(planned, known, history)
        authors = decisions.authors(found)
        groups = wiki.user_groups(self.site, authors) if s.policy.admin_group and authors else {}
        rechecks = decisions.recheck_subjects(found, groups, s)
        fresh = lookups.users(self.site, store, s, rechecks, now, fresh=True) if rechecks else {}
        decisions.decide(found, groups, fresh, now, s)

        planning.progress(parsed, planned, owed(store, s.page), now, s)
        foreign = {r.key: history.foreign_lines(r) for r in parsed.requests}
        answered = {
            (key, token)
            for key, lines in foreign.items()
            for token, _, _ in lines
            if store.forged_line_answered(s.page, key, token)
        }
        planning.answer_forged(parsed, records, planned, foreign, answered, s.bot_user)
        planning.expire(planned, now, s)
        return planned

    def _post(
        self,
        report: CycleReport,
        reading: Reading,
        text: str,
        keys_in_lines: set[str],
        archiving: archive_pages.Archiving,
        now: datetime,
    ) -> CycleReport:
        """Save the archives, then the page on the revision read; mark what it posted."""
        s, current = self.settings, reading.current
        queued = self.store.pending_replies(s.page)
        if archiving.plan is not None:
            archive_pages.save(
                self.site,
                s,
                archiving,
                self._pace,
                lambda: lease.record_saved(self.store, s.page, self.now()),
            )
            self.checkpoint("archived")
        if self._pace() and wiki.latest_revid(self.site, s.page) != current.revid:
            raise wiki.EditConflict(f"{s.page} was edited while the bot waited to save")
        saved = wiki.save(
            self.site,
            s.page,
            text,
            base=current,
            started=reading.started,
            summary=planning.summary(report.replies, report.archived, s.content_lang),
        )
        revid = saved.revid
        self.checkpoint("saved")
        keys = reading.keys
        with self.store.transaction():
            posted = [r.id for r in queued if self._key_of(keys, r.request_id) in keys_in_lines]
            self.store.mark_posted(posted, revid)
            lease.record_saved(self.store, s.page, self.now())
            if archiving.plan is not None:
                for move in archiving.plan.moves:
                    moved = reading.records[move.key]
                    mark_archived(self.store, s.bot_user, moved, move.archive_title, now, revid)
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

    # -- store reads and writes around the plan -------------------------------------------

    def _records(self) -> dict[str, RequestRecord]:
        return {r.key: r for r in self.store.requests(self.settings.page) if not r.archived_at}

    def _due(self, records: Any, now: datetime) -> bool:
        """Work waiting even though nobody edited the page: time-based, or a state
        another process (the bridge) changed that the page does not show yet."""
        timed = planning.timed_work(records, now, self.settings)
        return timed or progress_due(self.store, self.settings, now)

    def _rebind(
        self,
        parsed: page.RequestPage,
        identities: list[str],
        records: dict[str, RequestRecord],
    ) -> None:
        """Records of a store that keyed requests by heading ("X", "X #2") are rebound,
        once, to the identity of the section that has that key now."""
        by_heading = {r.key: i for i, r in zip(identities, parsed.requests, strict=True)}
        with self.store.transaction():  # every record rebound, or none
            for rec in records.values():
                identity = by_heading.get(rec.key)
                if is_identity(rec.key) or identity is None or identity in records:
                    continue
                self.store.update_request(rec.id, key=identity)
                self.store.audit(
                    self.settings.bot_user, "rebound", rec.id, old_key=rec.key, key=identity
                )

    def _note_damage(self, damage: planning.Damage) -> None:
        """Audit a damaged page once per damage (not once per cycle while it lasts)."""
        s = self.settings
        revid = str(self.store.page_revision(s.page) or "")
        marker = f"damaged:{s.page}"
        with self.store.transaction():  # audited once: the marker is set with it
            if self.store.cursor(marker) != f"{len(damage.missing)}@{revid}":
                self.store.audit(
                    s.bot_user,
                    "page-damaged",
                    page=s.page,
                    missing=damage.missing,
                    open=damage.open,
                )
                self.store.set_cursor(marker, f"{len(damage.missing)}@{revid}")

    def _key_of(self, keys: dict[int, str], request_id: int) -> str | None:
        """The section key of a request: from this cycle's records, else the store
        (a request first recorded in this cycle)."""
        if request_id in keys:
            return keys[request_id]
        found = self.store.request_by_id(request_id)
        return found.key if found else None

    # -- pacing ------------------------------------------------------------------------

    def _pace(self) -> bool:
        """Wait out what remains of `edit_interval` since the bot's last save (as the
        store knows it, so restarts do not reset it); True if it waited."""
        s = self.settings
        remaining = lease.pace_remaining(self.store, s.page, s.edit_interval, self.now())
        if remaining > 0:
            self.sleep(remaining)
        return remaining > 0


def _stopped(report: CycleReport, reason: str) -> CycleReport:
    report.status, report.reason = "stopped", reason
    return report


def _state_of(line: str) -> str:
    start = line.find("|") + 1
    return line[start : line.find("}}", start)]
