"""The yearly renewal, on the wiki: reminders on members' talk pages, then accounts.

`run` takes the plan of `membership.renewal` for `today`, reads the due members' user
talk pages (50 per request), and posts each reminder as a new section (one bot edit
per page, text from the `[renewal]` messages: the renewal date and the bridge, never
an amount or a waiver). A page that holds `{{ATS no reminders}}` or keeps this bot out
with `{{bots}}` / `{{nobots}}` is skipped, and the skip is recorded with its reason, so
each reminder is decided once per period. Each reminder is claimed in the store before
the talk page is read (membership/reminder_claims.py), so two runs at once remind a
member once; every posted reminder carries a hidden marker, so a run that takes over
the claim of one that died between saving and recording finds it and does not post it
twice. Then the lapsed members' suspensions and the renewed members' restores are
queued; that side needs no wiki, and runs and reports when the wiki cannot be reached
(the reminders are then one error line). With `dry_run` nothing is written, on the
wiki or in the store.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import mwparserfromhell

from bot import wiki
from bot.rules.exclusion import bot_may_edit
from bot.rules.messages import Catalog
from membership import reminder_claims, renewal
from membership.store import Store
from policies.fees import FeePolicy

ACTOR = "renewal"
OPT_OUT = "ATS no reminders"


@dataclass(frozen=True)
class RenewalSettings:
    bot_user: str  # the bot's username (without @appid), for {{bots|deny=…}}
    bridge_url: str
    lang: str = "en"


@dataclass
class RenewalReport:
    today: date
    dry_run: bool = False
    members: int = 0
    posted: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # member → why
    suspended: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)
    never_covered: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    elsewhere: list[str] = field(default_factory=list)  # another live run is reminding them

    def summary(self) -> str:
        would = "would be " if self.dry_run else ""
        lines = [
            f"renewal {self.today.isoformat()}{' (dry run)' if self.dry_run else ''}: "
            f"{self.members} members; {len(self.posted)} reminders {would}posted, "
            f"{len(self.skipped)} skipped, {len(self.suspended)} suspensions {would}queued, "
            f"{len(self.restored)} restores {would}queued"
        ]
        if self.posted:
            lines.append("  reminded: " + ", ".join(self.posted))
        lines += [f"  skipped {name}: {why}" for name, why in sorted(self.skipped.items())]
        if self.elsewhere:
            lines.append("  being reminded by another run: " + ", ".join(self.elsewhere))
        if self.suspended:
            lines.append("  suspend: " + ", ".join(self.suspended))
        if self.restored:
            lines.append("  restore: " + ", ".join(self.restored))
        if self.never_covered:
            lines.append(
                "  never paid and no waiver (not suspended; check by hand): "
                + ", ".join(self.never_covered)
            )
        lines += [f"  error: {e}" for e in self.errors]
        return "\n".join(lines)


def talk_page(member: str) -> str:
    return f"User talk:{member}"


def marker(reminder: renewal.Reminder) -> str:
    return f"<!-- ats-renewal {reminder.member} {reminder.period} {reminder.stage} -->"


def opted_out(text: str) -> bool:
    """True when `{{ATS no reminders}}` is live on the page (not in a comment or nowiki)."""
    if "reminders" not in text.lower():
        return False
    for template in mwparserfromhell.parse(text).filter_templates(recursive=True):
        name = " ".join(str(template.name).replace("_", " ").split())
        if name[:1].upper() + name[1:] == OPT_OUT:
            return True
    return False


def reminder_text(
    catalog: Catalog, reminder: renewal.Reminder, bridge_url: str
) -> tuple[str, str, str]:
    """(heading, text, summary) of one reminder."""
    day = reminder.renews_on.isoformat()
    heading = catalog.text("renewal", "heading", date=day)
    body = catalog.text(
        "renewal", "reminder", name=reminder.member, date=day, bridge_url=bridge_url
    )
    summary = catalog.text("renewal", "summary", date=day)
    return heading, f"{body}\n{marker(reminder)}", summary


STEPS = ("reminders-claimed", "reminder-posted")  # where a test may stop a run


def run(
    connect: Callable[[], Any],
    store: Store,
    policy: FeePolicy,
    settings: RenewalSettings,
    today: date,
    *,
    dry_run: bool = False,
    checkpoint: Callable[[str], None] | None = None,
) -> RenewalReport:
    """Post the due reminders (`connect()` gives the site, asked only when one is due),
    then queue suspensions and restores: the account side needs no wiki and runs even
    when the wiki side failed, which is then one error line of the report."""
    the_plan = renewal.plan(store, policy, today)
    report = RenewalReport(today, dry_run, members=len(the_plan.members))
    report.never_covered = list(the_plan.never_covered)
    try:
        _remind(connect, store, the_plan, settings, report, dry_run, checkpoint)
    except wiki.WikiError as error:
        report.errors.append("reminders not posted: " + " ".join(str(error).split()))
    changes = renewal.apply_accounts(store, policy, the_plan, dry_run=dry_run)
    report.suspended, report.restored = changes.suspended, changes.restored
    report.errors += changes.errors
    return report


def _remind(
    connect: Callable[[], Any],
    store: Store,
    the_plan: renewal.Plan,
    settings: RenewalSettings,
    report: RenewalReport,
    dry_run: bool,
    checkpoint: Callable[[str], None] | None,
) -> None:
    step = checkpoint or (lambda reached: None)
    me = reminder_claims.Claimant.this_run()
    if dry_run:
        mine: list[renewal.Reminder] = list(the_plan.reminders)
    else:
        # Claimed before the talk pages are read: a run that died after posting has
        # left its marker there by now, and a live run holding a claim keeps it.
        claims = reminder_claims.claim(store, the_plan.reminders, me)
        report.elsewhere = sorted(r.member for r in claims.elsewhere)
        mine = [r for r in the_plan.reminders if r in claims.ours]
        step("reminders-claimed")
    unsettled = list(mine)
    try:
        if mine:
            _post(connect(), store, mine, unsettled, me, settings, report, dry_run, step)
    finally:
        if unsettled and not dry_run:  # the next run claims them again
            reminder_claims.release(store, unsettled, me)


def _post(
    site: Any,
    store: Store,
    mine: list[renewal.Reminder],
    unsettled: list[renewal.Reminder],
    me: reminder_claims.Claimant,
    settings: RenewalSettings,
    report: RenewalReport,
    dry_run: bool,
    step: Callable[[str], None],
) -> None:
    catalog = Catalog(settings.lang)
    pages: dict[str, wiki.PageRevision] = {}
    titles = [talk_page(r.member) for r in mine]
    for start in range(0, len(titles), wiki.BATCH):
        pages.update(wiki.read_pages(site, titles[start : start + wiki.BATCH]).pages)
    for reminder in mine:
        page = pages.get(talk_page(reminder.member))
        text = page.text if page is not None and page.exists else ""
        why = ""
        outcome = "posted"
        if marker(reminder) in text:
            why = "already on the talk page"
        elif opted_out(text):
            outcome, why = "opted-out", f"the talk page holds {{{{{OPT_OUT}}}}}"
        elif not bot_may_edit(text, settings.bot_user):
            outcome, why = "bots-excluded", "the talk page keeps this bot out ({{bots}}/{{nobots})"
        if why:
            if outcome != "posted":
                report.skipped[reminder.member] = why
            if not dry_run:
                reminder_claims.settle(store, reminder, me, outcome, note=why)
                unsettled.remove(reminder)
            continue
        if dry_run:
            report.posted.append(reminder.member)
            continue
        heading, body, summary = reminder_text(catalog, reminder, settings.bridge_url)
        try:
            revid = wiki.append_section(site, talk_page(reminder.member), heading, body, summary)
        except wiki.WikiUnreachable:
            raise  # the wiki is gone: the other members' posts would fail the same way
        except wiki.WikiError as error:  # this member is tried again next run
            report.errors.append(f"{reminder.member}: {error}")
            continue
        step("reminder-posted")
        with store.transaction():
            reminder_claims.settle(store, reminder, me, "posted", revid=revid)
            store.audit(
                ACTOR,
                "reminder-posted",
                None,
                member=reminder.member,
                period=reminder.period,
                stage=reminder.stage,
                revid=revid,
            )
        unsettled.remove(reminder)
        report.posted.append(reminder.member)
