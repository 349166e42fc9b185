"""Recognising the bot's own replies that another store saved (bot/rules/echoes.py), on page
texts and a page history given as plain data, walked by the real provenance."""

from __future__ import annotations

from dataclasses import replace

from bot.rules import echoes, page, provenance
from tests.builders import request_section, request_wikitext

REQUEST = request_wikitext(purpose="Tools.")
SIGNATURE = "[[User:ClerkBot|ClerkBot]] ([[User talk:ClerkBot|talk]]) 13:37, 30 November 2026 (UTC)"
TEXT = "[[User:Veteran|Veteran]]: eligible."
LINE = f":{{{{ATS status|awaiting-identity}}}} {TEXT} {SIGNATURE}"


def section(heading: str, *replies: str) -> str:
    return request_section(heading, REQUEST, *replies)


FIRST = section("Account request: first", LINE)
FILED = FIRST + section("Account request: second")
ANSWERED = FIRST + section("Account request: second", LINE)


class Walk:
    """Revisions 10 (the first request, answered), 11 (a person files the second), 12
    (`saver` adds the reply under it, or `last` is saved instead), walked in order."""

    def __init__(self, saver: str = "ClerkBot", last: str = ANSWERED) -> None:
        texts = [(9, "Veteran", section("Account request: first")), (10, "ClerkBot", FIRST)]
        texts += [(11, "Veteran", FILED), (12, saver, last)]
        self.state = provenance.walk(
            provenance.PageHistory(),
            (provenance.Revision(r, u, provenance.sha1_of(t), (), t) for r, u, t in texts),
        )
        self.asked = 0
        parsed = page.parse(last)
        keyed = [
            replace(s, key=i) for s, i in zip(parsed.requests, self.state.current(), strict=True)
        ]
        self.page = replace(parsed, requests=tuple(keyed))
        self.second = keyed[1].key

    def origins(self, sec: page.RequestSection) -> list[tuple[str, provenance.Origin | None]]:
        self.asked += 1
        found = provenance.facts(self.page.text, sec, page.DEFAULT_VOCABULARY)
        return [(line, self.state.token_origin(sec.key, token)) for token, line in found.lines]


def find(walk: Walk, known: int | None = 11, text: str = TEXT) -> list[echoes.Echo]:
    return echoes.find(
        walk.page,
        {walk.second: [("awaiting-identity", text)]},
        status_template="ATS status",
        bot_user="ClerkBot",
        known_revid=known,
        origins=walk.origins,
    )


def test_a_reply_the_bot_saved_from_another_store_is_recognised() -> None:
    # The same requester answered twice in one minute: the very same line under two
    # requests. Only the one the bot added under this request after the store's
    # revision counts.
    walk = Walk()
    assert find(walk) == [echoes.Echo(walk.second, "awaiting-identity", TEXT, 12)]


def test_a_reply_already_there_when_the_store_last_saw_the_page_is_posted_again() -> None:
    # The store itself saw revision 12: an identical reply now is a new one.
    assert find(Walk(), known=12) == []


def test_the_same_line_written_by_someone_else_is_not_the_bots() -> None:
    assert find(Walk(saver="Mallory")) == []


def test_nothing_is_looked_up_when_no_such_line_is_under_the_request() -> None:
    walk = Walk(last=FILED + "\n")
    assert find(walk) == []
    assert walk.asked == 0


def test_a_different_reply_is_not_taken_for_the_planned_one() -> None:
    assert find(Walk(), text=TEXT.replace("eligible.", "eligible, and more.")) == []


def test_says_ignores_the_signature_but_not_more_text() -> None:
    prefix = f":{{{{ATS status|awaiting-identity}}}} {TEXT}"
    assert echoes.says(LINE, prefix)
    assert echoes.says(f"::{{{{ATS status|awaiting-identity}}}} {TEXT}", prefix)
    assert not echoes.says(LINE.replace("eligible.", "eligible. Also"), prefix + "!")
    assert not echoes.says(f":{{{{ATS status|awaiting-identity}}}} {TEXT}x {SIGNATURE}", prefix)
