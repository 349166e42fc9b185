"""Decisions on-wiki against a real MediaWiki: honoured only when the page history
proves an authorised user added them; the lifecycle they drive; archive; damage."""

from __future__ import annotations

import pytest

from tests.builders import request_section
from tests.integration.conftest import WikiBot
from tests.integration.test_clerk import bot_replies, section

VETERAN = "Account request: Veteran"


def filed(wikibot: WikiBot, user: str = "Veteran", heading: str = VETERAN) -> None:
    wikibot.file(user, heading)
    wikibot.cycle()


def replies_under(wikibot: WikiBot, heading: str = VETERAN) -> list[str]:
    return bot_replies(section(wikibot.text(), heading))


def record(wikibot: WikiBot, heading: str = VETERAN):
    store = wikibot.store()
    found = [r for r in store.requests(wikibot.page) if r.heading == heading]
    assert len(found) == 1
    return found[0]


def test_admin_approval_is_honoured_and_names_the_open_gates(wikibot: WikiBot) -> None:
    filed(wikibot)
    wikibot.append("ChapterAdmin", VETERAN, ":{{ATS approve}} Fine by me. ~~~~")
    wikibot.cycle()
    last = replies_under(wikibot)[-1]
    assert last.startswith(
        ":{{ATS status|awaiting-identity}} Approved by [[User:ChapterAdmin|ChapterAdmin]]"
    )
    assert "logging in with the wiki account" in last and "SSH key" in last
    rec = record(wikibot)
    assert rec.approved_by == "ChapterAdmin" and rec.approval_revid
    [decision] = wikibot.store().decisions(rec.id)
    assert (decision.kind, decision.actor, decision.honoured) == ("approve", "ChapterAdmin", True)
    wikibot.cycle()  # nothing new: no second acknowledgement
    assert len(replies_under(wikibot)) == 2


def test_non_admin_approval_is_ignored_with_the_reason(wikibot: WikiBot) -> None:
    filed(wikibot)
    wikibot.append("Newcomer", VETERAN, ":{{ATS approve}} ~~~~")
    wikibot.cycle()
    last = replies_under(wikibot)[-1]
    assert "Ignored <nowiki>{{ATS approve}}</nowiki>, added by [[User:Newcomer|Newcomer]]" in last
    assert "only the chapter's admins may add it" in last
    rec = record(wikibot)
    assert rec.approved_by is None and rec.state == "awaiting-identity"
    entries = [e for e in wikibot.store().audit_log(rec.id) if e.action == "ignored-decision"]
    assert entries and entries[0].actor == "Newcomer"
    assert entries[0].evidence["why"] == "not-admin"


def test_approval_slipped_into_an_admins_comment_is_ignored(wikibot: WikiBot) -> None:
    filed(wikibot)
    wikibot.append("ChapterAdmin", VETERAN, ":Let me look at this. ~~~~")
    wikibot.cycle()
    forged = wikibot.text().replace(
        ":Let me look at this.", ":{{ATS approve}} Let me look at this."
    )
    wikibot.wiki.edit_as("Newcomer", wikibot.page, forged, "tweak")
    wikibot.cycle()
    last = replies_under(wikibot)[-1]
    assert "Ignored" in last and "[[User:Newcomer|Newcomer]]" in last
    assert record(wikibot).approved_by is None


def test_admin_cannot_approve_their_own_request(wikibot: WikiBot) -> None:
    heading = "Account request: ChapterAdmin"
    filed(wikibot, "ChapterAdmin", heading)
    wikibot.append("ChapterAdmin", heading, ":{{ATS approve}} ~~~~")
    wikibot.cycle()
    last = replies_under(wikibot, heading)[-1]
    assert "an admin may not decide a request that is their own" in last
    assert record(wikibot, heading).approved_by is None


def test_withdraw_by_the_requester_and_by_someone_else(wikibot: WikiBot) -> None:
    filed(wikibot)
    wikibot.append("Newcomer", VETERAN, ":{{ATS withdraw}} ~~~~")
    wikibot.cycle()
    assert "only the requester (or an admin) may withdraw" in replies_under(wikibot)[-1]
    assert record(wikibot).state == "awaiting-identity"
    wikibot.append("Veteran", VETERAN, ":{{ATS withdraw}} Changed my mind. ~~~~")
    wikibot.cycle()
    assert replies_under(wikibot)[-1].startswith(
        ":{{ATS status|withdrawn}} Withdrawn by [[User:Veteran|Veteran]]"
    )
    rec = record(wikibot)
    assert rec.state == "withdrawn" and rec.closed_at


def test_decline_hold_and_a_later_approval(wikibot: WikiBot) -> None:
    filed(wikibot)
    wikibot.append("ChapterAdmin", VETERAN, ":{{ATS hold|waiting for the board}} ~~~~")
    wikibot.cycle()
    assert replies_under(wikibot)[-1].startswith(":{{ATS status|on-hold}}")
    assert "waiting for the board" in replies_under(wikibot)[-1]
    wikibot.append("ChapterAdmin", VETERAN, ":{{ATS approve}} Board agreed. ~~~~")
    wikibot.cycle()
    assert replies_under(wikibot)[-1].startswith(":{{ATS status|awaiting-identity}} Approved")

    other = "Account request: Newcomer"
    filed(wikibot, "Newcomer", other)
    wikibot.append("ChapterAdmin", other, ":{{ATS decline|too new; try again next year}} ~~~~")
    wikibot.cycle()
    last = replies_under(wikibot, other)[-1]
    assert last.startswith(":{{ATS status|declined}}")
    assert "declined by [[User:ChapterAdmin|ChapterAdmin]]" in last
    assert "too new; try again next year" in last


def test_recheck_by_anyone_and_override_by_an_admin(wikibot: WikiBot) -> None:
    heading = "Account request: Newcomer"
    filed(wikibot, "Newcomer", heading)
    assert record(wikibot, heading).state == "not-eligible"
    wikibot.append("Dormant", heading, ":{{ATS recheck}} ~~~~")
    wikibot.cycle()
    last = replies_under(wikibot, heading)[-1]
    assert last.startswith(
        ":{{ATS status|not-eligible}} Checked again at [[User:Dormant|Dormant]]'s request"
    )
    wikibot.append(
        "ChapterAdmin", heading, ":{{ATS approve|override=known offline contributor}} ~~~~"
    )
    wikibot.cycle()
    last = replies_under(wikibot, heading)[-1]
    assert last.startswith(":{{ATS status|awaiting-identity}}")
    assert "overriding the eligibility policy" in last and "known offline contributor" in last
    rec = record(wikibot, heading)
    assert rec.override == "known offline contributor"
    actions = [e.action for e in wikibot.store().audit_log(rec.id)]
    assert "decision:approve" in actions


def test_plain_approval_of_an_ineligible_request_asks_for_an_override(wikibot: WikiBot) -> None:
    heading = "Account request: Newcomer"
    filed(wikibot, "Newcomer", heading)
    wikibot.append("ChapterAdmin", heading, ":{{ATS approve}} ~~~~")
    wikibot.cycle()
    last = replies_under(wikibot, heading)[-1]
    assert "<nowiki>{{ATS approve|override=the reason}}</nowiki>" in last
    assert record(wikibot, heading).approved_by is None


def test_request_edited_after_approval_is_examined_again(wikibot: WikiBot) -> None:
    filed(wikibot)
    wikibot.append("ChapterAdmin", VETERAN, ":{{ATS approve}} ~~~~")
    wikibot.cycle()
    changed = wikibot.text().replace(
        "type    = account", "type    = account\n | username = Dormant"
    )
    wikibot.wiki.edit_as("Veteran", wikibot.page, changed, "for a friend instead")
    wikibot.cycle()
    last = replies_under(wikibot)[-1]
    assert "the approval no longer stands" in last
    rec = record(wikibot)
    assert rec.approved_by is None and rec.subject == "Dormant" and rec.state == "not-eligible"


def test_closed_requests_are_archived_without_losing_a_byte(wikibot: WikiBot) -> None:
    wikibot.configure("archive_after_days = 0")
    filed(wikibot)
    other = "Account request: Newcomer"
    filed(wikibot, "Newcomer", other)
    wikibot.append("ChapterAdmin", other, ":{{ATS decline|not yet}} ~~~~")
    wikibot.cycle()  # the decline is answered; the section stays this cycle
    before = section(wikibot.text(), other).rstrip("\n")
    wikibot.cycle()  # now it is archived
    text = wikibot.text()
    assert f"== {other} ==" not in text
    assert f"== {VETERAN} ==" in text
    rec = record(wikibot, other)
    assert rec.archive_page and rec.archive_page.startswith(wikibot.page + "/Archive/")
    archived = wikibot.wiki.page_text(rec.archive_page)
    assert before in archived
    revisions = wikibot.revisions()
    wikibot.cycle()
    assert wikibot.revisions() == revisions  # nothing more to do
    assert wikibot.wiki.page_text(rec.archive_page).count(f"== {other} ==") == 1


def test_blanked_page_gets_no_replies_and_nothing_is_lost(wikibot: WikiBot) -> None:
    filed(wikibot)
    filed(wikibot, "Ярослава", "Account request: Ярослава")
    good = wikibot.text()
    wikibot.wiki.edit_as(
        "Newcomer",
        wikibot.page,
        "lol\n\n" + request_section("Account request: x"),
        "blank",
    )
    before = wikibot.revisions()
    result = wikibot.cycle()
    assert "blanked or vandalised" in result.stdout
    assert wikibot.revisions() == before  # nothing posted into the damaged page
    assert len(wikibot.store().requests(wikibot.page)) == 2
    # Restored, with a new request added since: replies resume.
    wikibot.wiki.edit_as("ChapterAdmin", wikibot.page, good, "revert vandalism")
    wikibot.file("Dormant", "Account request: Dormant")
    wikibot.cycle()
    assert len(replies_under(wikibot, "Account request: Dormant")) == 1
    assert len(replies_under(wikibot)) == 1


def test_queue_summary_lists_open_requests(wikibot: WikiBot) -> None:
    filed(wikibot)
    text = wikibot.text()
    assert text.index("<!-- ats-queue:start") < text.index(f"== {VETERAN} ==")
    region = text[text.index("<!-- ats-queue:start") : text.index("<!-- ats-queue:end -->")]
    assert "awaiting-identity" in region and "Veteran" in region


@pytest.mark.parametrize("step", ["read", "planned", "recorded", "saved", "done"])
def test_killed_while_acting_on_a_decision(wikibot: WikiBot, step: str) -> None:
    filed(wikibot)
    wikibot.append("ChapterAdmin", VETERAN, ":{{ATS decline|no}} ~~~~")
    killed = wikibot.cycle(env={"ATS_KILL_AT": step}, check=False)
    assert killed.returncode == -9
    wikibot.cycle()
    wikibot.cycle()
    declined = [r for r in replies_under(wikibot) if r.startswith(":{{ATS status|declined}}")]
    assert len(declined) == 1
    rec = record(wikibot)
    assert rec.state == "declined"
    assert len(wikibot.store().decisions(rec.id)) == 1


def test_expired_after_no_progress(wikibot: WikiBot) -> None:
    wikibot.configure("expire_after_days = 0")
    filed(wikibot)
    wikibot.cycle()
    assert replies_under(wikibot)[-1].startswith(":{{ATS status|expired}}")
    assert record(wikibot).state == "expired"


@pytest.mark.parametrize("step", ["archived", "saved"])
def test_killed_between_archive_and_removal(wikibot: WikiBot, step: str) -> None:
    """Archive saved, then the process dies before the section leaves the page."""
    wikibot.configure("archive_after_days = 0")
    filed(wikibot)
    wikibot.append("Veteran", VETERAN, ":{{ATS withdraw}} ~~~~")
    wikibot.cycle()
    body = section(wikibot.text(), VETERAN).rstrip("\n")
    killed = wikibot.cycle(env={"ATS_KILL_AT": step}, check=False)
    assert killed.returncode == -9
    wikibot.cycle()
    rec = record(wikibot)
    assert rec.archive_page
    archived = wikibot.wiki.page_text(rec.archive_page)
    assert archived.count(f"== {VETERAN} ==") == 1
    assert body in archived
    assert f"== {VETERAN} ==" not in wikibot.text()
