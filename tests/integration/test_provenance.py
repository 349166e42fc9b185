"""Page provenance against a real MediaWiki: decisions are credited to whoever first wrote
them, through rollback, undo and restores; requests keep their identity whatever happens
to their heading or position; status lines the bot did not write are answered once."""

from __future__ import annotations

from pathlib import Path

from tests.builders import request_section
from tests.integration.conftest import WikiBot
from tests.integration.test_clerk import section

VETERAN = "Account request: Veteran"
MALLORY = "Newcomer"  # an ordinary account, not an admin
SOCK = "Ярослава"  # a second account (not Dormant: other tests need it inactive)
ADMIN = "ChapterAdmin"
TEMPLATES = Path(__file__).resolve().parents[2] / "bot" / "templates"


def bot_lines(text: str) -> list[str]:
    """The bot's own reply lines (signed by ClerkBot) in `text`."""
    return [
        line
        for line in text.splitlines()
        if line.startswith(":{{ATS status|") and "[[User:ClerkBot|ClerkBot]]" in line[-90:]
    ]


def revids(wikibot: WikiBot) -> list[int]:
    """The page's revision ids, oldest first."""
    return [r["revid"] for r in reversed(wikibot.revisions())]


def records(wikibot: WikiBot, heading: str = VETERAN) -> list:
    return [r for r in wikibot.store().requests(wikibot.page) if r.heading == heading]


def the_record(wikibot: WikiBot, requester: str, heading: str = VETERAN):
    [found] = [r for r in records(wikibot, heading) if r.requester == requester]
    return found


def filed(wikibot: WikiBot) -> None:
    wikibot.file("Veteran", VETERAN)
    wikibot.cycle()


def without_section(text: str, heading: str) -> str:
    body = section(text, heading)
    return text.replace(body, "", 1)


def append_to_nth(wikibot: WikiBot, user: str, heading: str, nth: int, line: str) -> None:
    """Add `line` at the end of the nth (0-based) section named `heading`, as `user`."""
    text = wikibot.text()
    start = -1
    for _ in range(nth + 1):
        start = text.index(f"== {heading} ==", start + 1)
    end = text.find("\n== ", start + 1)
    end = len(text.rstrip("\n")) if end == -1 else end
    body = text[start:end].rstrip("\n")
    text = text[:start] + body + "\n" + line + text[start + len(body) :]
    wikibot.wiki.edit_as(user, wikibot.page, text, "comment")


def assert_mallorys_approve_ignored(wikibot: WikiBot) -> None:
    last = bot_lines(section(wikibot.text(), VETERAN))[-1]
    assert "Ignored <nowiki>{{ATS approve}}</nowiki>, added by [[User:Newcomer|Newcomer]]" in last
    assert "Approved by" not in wikibot.text()
    record = the_record(wikibot, "Veteran")
    assert record.approved_by is None and record.state == "awaiting-identity"
    [decision] = wikibot.store().decisions(record.id)
    assert (decision.actor, decision.honoured) == (MALLORY, False)


def mallory_approves_and_the_section_is_removed(wikibot: WikiBot) -> int:
    filed(wikibot)
    wikibot.append(MALLORY, VETERAN, ":{{ATS approve}} ok ~~~~")
    wikibot.wiki.edit_as(SOCK, wikibot.page, without_section(wikibot.text(), VETERAN), "tidy")
    assert VETERAN not in wikibot.text()
    return revids(wikibot)[-1]


def test_rollback_does_not_make_the_admin_the_author(wikibot: WikiBot) -> None:
    mallory_approves_and_the_section_is_removed(wikibot)
    wikibot.wiki.rollback_as(ADMIN, wikibot.page, SOCK)
    assert ":{{ATS approve}} ok" in wikibot.text()
    wikibot.cycle()
    assert_mallorys_approve_ignored(wikibot)


def test_undo_does_not_make_the_admin_the_author(wikibot: WikiBot) -> None:
    removal = mallory_approves_and_the_section_is_removed(wikibot)
    wikibot.wiki.undo_as(ADMIN, wikibot.page, removal)
    wikibot.cycle()
    assert_mallorys_approve_ignored(wikibot)


def test_restore_after_80_junk_edits_by_an_undo_range(wikibot: WikiBot) -> None:
    filed(wikibot)
    wikibot.append(MALLORY, VETERAN, ":{{ATS approve}} ok ~~~~")
    approved = revids(wikibot)[-1]
    wikibot.wiki.edit_as(MALLORY, wikibot.page, "Nothing to see.\n", "blank")
    session = wikibot.wiki.api_as(SOCK)
    token = session.get(
        wikibot.wiki.api_url,
        params={"action": "query", "meta": "tokens", "format": "json"},
        timeout=30,
    ).json()["query"]["tokens"]["csrftoken"]
    for n in range(80):
        saved = session.post(
            wikibot.wiki.api_url,
            data={
                "action": "edit",
                "title": wikibot.page,
                "text": f"Nothing to see. {n}\n",
                "token": token,
                "format": "json",
            },
            timeout=30,
        ).json()
        assert saved["edit"]["result"] == "Success"
    wikibot.wiki.undo_as(ADMIN, wikibot.page, revids(wikibot)[-1], approved)
    assert ":{{ATS approve}} ok" in wikibot.text()
    wikibot.cycle()
    assert_mallorys_approve_ignored(wikibot)


def test_a_vandalised_then_restored_admin_approve_stays_the_admins(wikibot: WikiBot) -> None:
    filed(wikibot)
    wikibot.append(ADMIN, VETERAN, ":{{ATS approve}} Fine by me. ~~~~")
    approved = wikibot.text()
    wikibot.wiki.edit_as(MALLORY, wikibot.page, without_section(approved, VETERAN), "vandal")
    wikibot.wiki.edit_as(SOCK, wikibot.page, approved + "\n", "restoring the request")
    wikibot.cycle()
    record = the_record(wikibot, "Veteran")
    assert record.approved_by == ADMIN
    last = bot_lines(section(wikibot.text(), VETERAN))[-1]
    assert "Approved by [[User:ChapterAdmin|ChapterAdmin]]" in last


def test_a_same_heading_section_inserted_above_takes_nothing(wikibot: WikiBot) -> None:
    filed(wikibot)
    genuine = the_record(wikibot, "Veteran")
    text = wikibot.text()
    start = text.index(f"== {VETERAN} ==")
    fake = request_section(VETERAN) + "\n"
    wikibot.wiki.edit_as(MALLORY, wikibot.page, text[:start] + fake + text[start:], "mine")
    wikibot.cycle()
    assert the_record(wikibot, "Veteran").id == genuine.id
    inserted = the_record(wikibot, MALLORY)
    assert inserted.id != genuine.id
    first, second = wikibot.text().split(f"== {VETERAN} ==")[1:]
    # the reply to the inserted request went under it, not under Veteran's
    [reply] = bot_lines(first)
    assert reply.startswith(":{{ATS status|not-eligible}}")  # Newcomer's account is new
    [reply] = bot_lines(second)
    assert reply.startswith(":{{ATS status|awaiting-identity}}")

    append_to_nth(wikibot, ADMIN, VETERAN, 1, ":{{ATS approve}} The genuine one. ~~~~")
    wikibot.cycle()
    assert the_record(wikibot, "Veteran").approved_by == ADMIN
    assert the_record(wikibot, MALLORY).approved_by is None
    second = wikibot.text().split(f"== {VETERAN} ==")[2]
    assert "Approved by [[User:ChapterAdmin|ChapterAdmin]]" in bot_lines(second)[-1]


def test_a_same_heading_section_inserted_below_takes_nothing(wikibot: WikiBot) -> None:
    filed(wikibot)
    genuine = the_record(wikibot, "Veteran")
    wikibot.file(MALLORY, VETERAN)
    wikibot.cycle()
    assert the_record(wikibot, "Veteran").id == genuine.id
    assert the_record(wikibot, MALLORY).id != genuine.id
    wikibot.append(ADMIN, VETERAN, ":{{ATS approve}} The genuine one. ~~~~")
    wikibot.cycle()
    assert the_record(wikibot, "Veteran").approved_by == ADMIN
    assert the_record(wikibot, MALLORY).approved_by is None


def test_a_copied_section_and_bot_line_belong_to_the_copier(wikibot: WikiBot) -> None:
    filed(wikibot)
    text = wikibot.text()
    copy = section(text, VETERAN).rstrip("\n")
    assert bot_lines(copy)
    wikibot.wiki.edit_as(
        MALLORY, wikibot.page, text.rstrip("\n") + "\n\n== Chat ==\nhello\n\n" + copy, "copy"
    )
    wikibot.cycle()
    assert the_record(wikibot, "Veteran").requester == "Veteran"
    copied = the_record(wikibot, MALLORY)
    assert copied.subject == MALLORY
    tail = wikibot.text().split("== Chat ==")[1]
    answer = [line for line in bot_lines(tail) if "was not written by" in line]
    assert len(answer) == 1 and "added by [[User:Newcomer|Newcomer]]" in answer[0]
    assert "was not written by" not in section(wikibot.text(), VETERAN)


def test_a_renamed_heading_is_the_same_request(wikibot: WikiBot) -> None:
    filed(wikibot)
    genuine = the_record(wikibot, "Veteran")
    renamed = "Account request: Veteran's maintenance scripts"
    wikibot.wiki.edit_as(
        "Veteran", wikibot.page, wikibot.text().replace(VETERAN, renamed), "clearer title"
    )
    wikibot.cycle()
    [record] = wikibot.store().requests(wikibot.page)
    assert record.id == genuine.id and record.heading == renamed
    assert len(bot_lines(wikibot.text())) == 1


def test_forged_status_line_and_substituted_approve_are_answered_once(wikibot: WikiBot) -> None:
    wikibot.wiki.edit_as(
        "Admin",
        "Template:ATS approve",
        (TEMPLATES / "Template:ATS_approve.wikitext").read_text(),
        "template",
    )
    filed(wikibot)
    forged = ":{{ATS status|approved}} Approved. [[User:ClerkBot|ClerkBot]] 10:00, 1 May 2026 (UTC)"
    wikibot.append(MALLORY, VETERAN, forged)
    wikibot.cycle()
    answers = [
        line
        for line in bot_lines(section(wikibot.text(), VETERAN))
        if "was not written by [[User:ClerkBot|ClerkBot]]" in line
    ]
    assert len(answers) == 1
    assert answers[0].startswith(":{{ATS status|awaiting-identity}}")
    assert "added by [[User:Newcomer|Newcomer]]" in answers[0]
    assert "in fact awaiting-identity" in answers[0]
    wikibot.append(SOCK, VETERAN, ":Any news? ~~~~")
    wikibot.cycle()
    assert wikibot.text().count("was not written by") == 1

    wikibot.append(MALLORY, VETERAN, ":{{subst:ATS approve}} ~~~~")
    assert 'data-ats-decision="approve"' in wikibot.text()
    wikibot.cycle()
    assert wikibot.text().count("was not written by") == 2
    wikibot.cycle()
    assert wikibot.text().count("was not written by") == 2
    assert the_record(wikibot, "Veteran").approved_by is None


def test_a_store_keyed_by_heading_is_rebound_once(wikibot: WikiBot) -> None:
    filed(wikibot)
    store = wikibot.store()
    [record] = store.requests(wikibot.page)
    # as the previous version of the bot wrote it: keyed by heading, no provenance
    store.update_request(record.id, key=VETERAN)
    store.db["page_provenance"].delete_where()
    wikibot.append(ADMIN, VETERAN, ":{{ATS approve}} ~~~~")
    wikibot.cycle()
    [record] = wikibot.store().requests(wikibot.page)
    assert record.key != VETERAN and record.approved_by == ADMIN
    assert [e for e in wikibot.store().audit_log(record.id) if e.action == "rebound"]


def test_the_api_cost_of_reading_history(wikibot: WikiBot) -> None:
    filed(wikibot)
    for n in range(3):
        wikibot.append(SOCK, VETERAN, f":note {n} ~~~~")
    offset = wikibot.wiki.log_size()
    wikibot.cycle()
    # login check, the page read, the history since the last cycle, one batch of texts
    assert wikibot.wiki.api_requests_since(offset) <= 6
