"""Recognising the bot's own replies that another store saved (bot/echoes.py), on page
texts and a page history given as plain data."""

from __future__ import annotations

from bot import echoes, page
from bot.wiki import RevisionMeta

REQUEST = "{{ATS request\n | type = account\n | purpose = Tools.\n}}\n~~~~"
SIGNATURE = "[[User:ClerkBot|ClerkBot]] ([[User talk:ClerkBot|talk]]) 13:37, 30 November 2026 (UTC)"
TEXT = "[[User:Veteran|Veteran]]: eligible."
LINE = f":{{{{ATS status|awaiting-identity}}}} {TEXT} {SIGNATURE}"
PLANNED = {"Account request: second": [("awaiting-identity", TEXT)]}


def section(heading: str, *replies: str) -> str:
    return "\n".join([f"== {heading} ==", REQUEST, *replies]) + "\n"


FILED = section("Account request: first", LINE) + section("Account request: second")
ANSWERED = section("Account request: first", LINE) + section("Account request: second", LINE)


class History:
    """Revisions 10 (the store's last), 11 (a person files the second request), 12
    (`saver` adds the reply under it), with their texts; counts what is fetched."""

    def __init__(self, saver: str = "ClerkBot") -> None:
        self.texts = {10: section("Account request: first", LINE), 11: FILED, 12: ANSWERED}
        self.revisions = [RevisionMeta(11, "t11", "Veteran", 0), RevisionMeta(12, "t12", saver, 0)]
        self.fetched: list[int] = []
        self.asked = 0

    def history(self) -> list[RevisionMeta]:
        self.asked += 1
        return [r for r in self.revisions if r.revid > self.known]

    def fetch(self, revids: list[int]) -> dict[int, str]:
        self.fetched.extend(revids)
        return {r: self.texts[r] for r in revids}

    known = 10


def find(history: History, text: str = ANSWERED, known: int | None = 10) -> list[echoes.Echo]:
    history.known = known or 0
    return echoes.find(
        page.parse(text),
        PLANNED,
        status_template="ATS status",
        bot_user="ClerkBot",
        known_revid=known,
        history=history.history,
        fetch_texts=history.fetch,
    )


def test_a_reply_the_bot_saved_from_another_store_is_recognised() -> None:
    # The same requester answered twice in one minute: the very same line under two
    # headings. Only the one the bot added after the store's revision counts.
    found = find(History())
    assert found == [echoes.Echo("Account request: second", "awaiting-identity", TEXT, 12)]


def test_a_reply_already_there_when_the_store_last_saw_the_page_is_posted_again() -> None:
    history = History()
    history.texts[12] = ANSWERED
    # The store itself saw revision 12: an identical reply now is a new one.
    assert find(history, known=12) == []


def test_the_same_line_written_by_someone_else_is_not_the_bots() -> None:
    assert find(History(saver="Mallory")) == []


def test_nothing_is_fetched_when_no_such_line_is_on_the_page() -> None:
    history = History()
    assert find(history, text=FILED) == []
    assert history.asked == 0 and history.fetched == []


def test_a_different_reply_is_not_taken_for_the_planned_one() -> None:
    other = LINE.replace("eligible.", "eligible, and more.")
    text = section("Account request: first", LINE) + section("Account request: second", other)
    assert find(History(), text=text) == []


def test_says_ignores_the_signature_but_not_more_text() -> None:
    prefix = f":{{{{ATS status|awaiting-identity}}}} {TEXT}"
    assert echoes.says(LINE, prefix)
    assert echoes.says(f"::{{{{ATS status|awaiting-identity}}}} {TEXT}", prefix)
    assert not echoes.says(LINE.replace("eligible.", "eligible. Also"), prefix + "!")
    assert not echoes.says(f":{{{{ATS status|awaiting-identity}}}} {TEXT}x {SIGNATURE}", prefix)
