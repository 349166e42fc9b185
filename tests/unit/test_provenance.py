"""The provenance walk with plain revisions: identities and token origins through history."""

from __future__ import annotations

import json

from bot.rules import page
from bot.rules.provenance import PageHistory, Revision, facts, sha1_of, walk
from tests.builders import request_section, request_wikitext


def request(heading: str, username: str, *extra: str) -> str:
    signature = f"[[User:{username}|{username}]] 10:00, 1 May 2026 (UTC)"
    body = request_wikitext(username=username, purpose="Tools.", signature=signature)
    return request_section(heading, body, *extra)


def rev(revid: int, user: str, text: str, *tags: str) -> Revision:
    return Revision(revid, user, sha1_of(text), tuple(tags), text, f"2026-05-01T10:{revid:02d}:00Z")


HEAD = "Requests.\n\n"
APPROVE = ":{{ATS approve}} ok [[User:Mallory|Mallory]] 11:00, 1 May 2026 (UTC)"
ADMIN_APPROVE = ":{{ATS approve}} [[User:ChapterAdmin|ChapterAdmin]] 12:00, 1 May 2026 (UTC)"


class Page:
    """A history built edit by edit, walked at the end (or at any point)."""

    def __init__(self) -> None:
        self.revisions: list[Revision] = []
        self.state = PageHistory()

    def edit(self, user: str, text: str, *tags: str) -> int:
        revid = len(self.revisions) + 1
        self.revisions.append(rev(revid, user, text, *tags))
        return revid

    def walk(self) -> PageHistory:
        return walk(self.state, [r for r in self.revisions if r.revid > self.state.cursor])

    def text(self) -> str:
        return self.revisions[-1].text or ""

    def sections(self) -> tuple[page.RequestSection, ...]:
        return page.parse(self.text()).requests

    def requester(self, index: int) -> str:
        origin = self.state.origin(self.state.current()[index])
        assert origin is not None
        return origin.user

    def decision_author(self, index: int, ordinal: int = 1) -> str:
        section = self.sections()[index]
        decision = [d for d in section.decisions if d.ordinal == ordinal][0]
        token = facts(self.text(), section, page.DEFAULT_VOCABULARY).decisions[
            (decision.wikitext, decision.ordinal)
        ]
        origin = self.state.token_origin(self.state.current()[index], token)
        assert origin is not None
        return origin.user

    def line_authors(self, index: int) -> list[str]:
        section = self.sections()[index]
        found = facts(self.text(), section, page.DEFAULT_VOCABULARY)
        identity = self.state.current()[index]
        return [self.state.token_origin(identity, token).user for token, _ in found.lines]  # type: ignore[union-attr]


def test_a_new_request_belongs_to_whoever_saved_it() -> None:
    history = Page()
    history.edit("Admin", HEAD)
    history.edit("Veteran", HEAD + request("Account request: Vet", "Veteran"))
    history.walk()
    assert history.requester(0) == "Veteran"
    assert history.state.current() == ["2.1"]


def test_rollback_of_a_section_removal_does_not_launder_a_decision() -> None:
    history = Page()
    history.edit("Admin", HEAD)
    history.edit("Victim", HEAD + request("Account request: V", "Victim"))
    with_approve = HEAD + request("Account request: V", "Victim", APPROVE)
    history.edit("Mallory", with_approve)
    history.edit("Sock", HEAD)
    history.edit("ChapterAdmin", with_approve, "mw-rollback")
    history.walk()
    assert history.requester(0) == "Victim"
    assert history.decision_author(0) == "Mallory"


def test_restore_after_many_junk_edits_keeps_the_first_author() -> None:
    history = Page()
    history.edit("Admin", HEAD)
    history.edit("Victim", HEAD + request("Account request: V", "Victim"))
    with_approve = HEAD + request("Account request: V", "Victim", APPROVE)
    history.edit("Mallory", with_approve)
    history.edit("Mallory", "")
    for n in range(80):
        history.edit("Sock", f"junk {n}\n")
    history.edit("ChapterAdmin", with_approve)  # untagged: recognised by its sha1
    history.walk()
    assert history.decision_author(0) == "Mallory"
    assert history.requester(0) == "Victim"


def test_vandalised_then_restored_admin_approve_stays_the_admins() -> None:
    history = Page()
    history.edit("Admin", HEAD)
    history.edit("Veteran", HEAD + request("Account request: V", "Veteran"))
    approved = HEAD + request("Account request: V", "Veteran", ADMIN_APPROVE)
    history.edit("ChapterAdmin", approved)
    history.walk()  # the bot saw it once: the cursor moves, the state carries on
    history.edit("Vandal", HEAD)
    history.edit("Someone", approved + "\n")  # a manual restore, not byte-identical
    history.walk()
    assert history.decision_author(0) == "ChapterAdmin"


def test_a_readded_decision_is_new_but_a_restored_line_is_not() -> None:
    history = Page()
    history.edit("Admin", HEAD)
    history.edit("Victim", HEAD + request("Account request: V", "Victim"))
    history.edit("Mallory", HEAD + request("Account request: V", "Victim", APPROVE))
    history.edit("Other", HEAD + request("Account request: V", "Victim"))
    history.edit("ChapterAdmin", HEAD + request("Account request: V", "Victim", ADMIN_APPROVE))
    history.walk()
    assert history.decision_author(0) == "ChapterAdmin"


def test_same_heading_inserted_above_takes_nothing() -> None:
    history = Page()
    history.edit("Admin", HEAD)
    genuine = request("Account request: V", "Veteran")
    history.edit("Veteran", HEAD + genuine)
    history.walk()
    first = history.state.current()[0]
    fake = request("Account request: V", "Mallory")
    history.edit("Mallory", HEAD + fake + "\n" + genuine)
    history.walk()
    assert history.state.current()[1] == first
    assert history.requester(1) == "Veteran"
    assert history.requester(0) == "Mallory"
    # and below
    history.edit("Mallory", HEAD + genuine + "\n" + fake.replace("Mallory", "Mallory2"))
    history.walk()
    assert history.state.current()[0] == first


def test_a_copy_belongs_to_the_copier_and_a_rename_keeps_the_identity() -> None:
    history = Page()
    history.edit("Admin", HEAD)
    genuine = request("Account request: V", "Veteran")
    history.edit("Veteran", HEAD + genuine)
    history.walk()
    first = history.state.current()[0]
    history.edit("Copier", HEAD + genuine + "\n== Other ==\nchat\n\n" + genuine)
    history.walk()
    assert history.state.current()[0] == first
    assert history.requester(1) == "Copier"
    renamed = genuine.replace("Account request: V", "Account request: Veteran's tools")
    history.edit("Veteran", HEAD + renamed)
    history.walk()
    assert history.state.current() == [first]


def test_a_copied_bot_line_belongs_to_the_copier() -> None:
    history = Page()
    history.edit("Admin", HEAD)
    line = ":{{ATS status|approved}} Approved. [[User:ClerkBot|ClerkBot]] 10:00, 2 May 2026 (UTC)"
    history.edit("Veteran", HEAD + request("Account request: V", "Veteran"))
    history.edit("ClerkBot", HEAD + request("Account request: V", "Veteran", line))
    history.edit(
        "Mallory",
        HEAD + request("Account request: V", "Veteran", line) + request("Account request: M", "M"),
    )
    history.edit(
        "Mallory",
        HEAD
        + request("Account request: V", "Veteran", line)
        + request("Account request: M", "M", line, '<span class="ats-decision">✔ Approved</span>'),
    )
    history.walk()
    assert history.line_authors(0) == ["ClerkBot"]
    assert history.line_authors(1) == ["Mallory", "Mallory"]


def test_state_survives_json_and_known_contents_are_not_fetched() -> None:
    history = Page()
    history.edit("Admin", HEAD)
    text = HEAD + request("Account request: V", "Victim", APPROVE)
    history.edit("Mallory", text)
    history.walk()
    state = PageHistory(json.loads(json.dumps(history.state.to_json())))
    assert not state.needs_text(sha1_of(text))
    assert state.needs_text(sha1_of("something else"))
    # a revert to a known content, without its text: the layout is remembered
    state.advance(Revision(3, "Sock", sha1_of(HEAD), (), None))
    state.advance(Revision(4, "ChapterAdmin", sha1_of(text), ("mw-undo",), None))
    history.state = state
    history.revisions += [rev(3, "Sock", HEAD), rev(4, "ChapterAdmin", text)]
    assert history.decision_author(0) == "Mallory"
    assert history.requester(0) == "Mallory"


def test_ids_are_the_same_for_two_walks() -> None:
    history = Page()
    history.edit("Admin", HEAD)
    history.edit(
        "A", HEAD + request("Account request: A", "A") + request("Account request: B", "B")
    )
    one = walk(PageHistory(), history.revisions).current()
    two = walk(PageHistory(), history.revisions).current()
    assert one == two == ["2.1", "2.2"]


def test_the_same_fields_in_another_request_are_not_the_same_request() -> None:
    history = Page()
    history.edit("Admin", HEAD)
    history.edit("Veteran", HEAD + request("Account request: V", "Someone"))
    history.walk()
    first = history.state.current()[0]
    # the page replaced by another request asking the same thing: new, and Mallory's
    other = request("Account request: x", "Someone").replace("User:Someone|", "User:Mallory|")
    history.edit("Mallory", HEAD + other)
    history.walk()
    assert history.state.current() != [first]
    assert history.requester(0) == "Mallory"


def test_an_edited_request_keeps_its_identity() -> None:
    history = Page()
    history.edit("Admin", HEAD)
    history.edit("Veteran", HEAD + request("Account request: V", "Veteran", ":more", ":and more"))
    history.walk()
    first = history.state.current()[0]
    edited = request("Account request: V", "Veteran", ":more", ":and more")
    history.edit("Veteran", HEAD + edited.replace("Tools.", "Bots and tools."))
    history.walk()
    assert history.state.current() == [first]


def test_a_save_touching_every_request_keeps_every_identity() -> None:
    history = Page()
    sections = [request(f"Account request: R{n}", f"User{n}") for n in range(300)]
    history.edit("Admin", HEAD + "".join(sections))
    history.walk()
    before = history.state.current()
    line = ":{{ATS status|received}} Received. [[User:ClerkBot|ClerkBot]] 10:00, 2 May 2026 (UTC)"
    replied = [s.rstrip("\n") + "\n" + line + "\n" for s in sections]
    history.edit("ClerkBot", HEAD + "".join(replied))
    history.walk()
    assert history.state.current() == before
    assert history.line_authors(299) == ["ClerkBot"]


def test_the_clerks_own_save_authors_its_lines_even_when_tagged_as_a_revert() -> None:
    # The same replies saved again within a minute give a text the page once had, and
    # MediaWiki tags the bot's save as a manual revert. The bot never reverts: its new
    # line is its own, not nobody's (else it would answer its own line as forged).
    line = ":{{ATS status|received}} Checking. [[User:ClerkBot|ClerkBot]] 10:05, 1 May 2026 (UTC)"
    filed = HEAD + request("Account request: Veteran", "Veteran")
    answered = filed + line + "\n"
    for user, expected in (("ClerkBot", "ClerkBot"), ("Mallory", "")):
        state = PageHistory()
        state.advance(rev(1, "Veteran", filed), clerk="ClerkBot")
        state.advance(rev(2, user, answered, "mw-manual-revert"), clerk="ClerkBot")
        [identity] = state.current()
        [(token, _)] = facts(
            answered, page.parse(answered).requests[0], page.DEFAULT_VOCABULARY
        ).lines
        origin = state.token_origin(identity, token)
        assert origin is not None and origin.user == expected, (user, origin)
