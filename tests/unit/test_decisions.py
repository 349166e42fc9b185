"""Deciding with plain data: who added each decision template, and what it does."""

from __future__ import annotations

from bot.rules import decisions, judging, planning
from bot.rules.planned import Planned
from membership.states import State
from tests.unit.clerk_data import NOW, SETTINGS, Wiki, record, request, veteran

SIGNED = "[[User:Veteran|Veteran]] 10:00, 1 May 2026 (UTC)"
ADMIN_SIG = "[[User:ChapterAdmin|ChapterAdmin]] 12:00, 1 May 2026 (UTC)"


def filed() -> Wiki:
    return Wiki().append("Veteran", request("Account request", SIGNED))


def plan(wiki: Wiki, state: str = "awaiting-approval", **changes: object) -> tuple:
    """The request as the store knows it (judged, in `state`) and the new decisions."""
    parsed, history = wiki.read()
    [section] = parsed.requests
    item = Planned(section, record(section, state=state, **changes), {})
    return item, decisions.new_decisions([item], {}, history)


def test_an_admins_approval_is_honoured_and_remembered() -> None:
    item, found = plan(filed().append("ChapterAdmin", f":{{{{ATS approve}}}} {ADMIN_SIG}\n"))
    assert decisions.authors(found) == ["ChapterAdmin"]
    decisions.decide(found, {}, {}, NOW, SETTINGS)
    assert item.state == State.APPROVED and item.values["approved_by"] == "ChapterAdmin"
    assert item.values["approval_revid"] == 2
    [remembered] = item.decisions
    assert remembered["honoured"] is True and remembered["actor"] == "ChapterAdmin"
    assert item.audit[-1][:2] == ("ChapterAdmin", "decision:approve")


def test_a_forged_approval_counts_for_its_real_author() -> None:
    """The line is signed as the admin, but the history shows who saved it."""
    item, found = plan(filed().append("Mallory", f":{{{{ATS approve}}}} {ADMIN_SIG}\n"))
    decisions.decide(found, {}, {}, NOW, SETTINGS)
    assert item.state == "awaiting-approval" and "approved_by" not in item.values
    [remembered] = item.decisions
    assert (remembered["honoured"], remembered["reason"]) == (False, "not-admin")
    assert remembered["actor"] == "Mallory"
    [(_, text)] = item.replies
    assert "Mallory" in text
    assert item.audit[-1][:2] == ("Mallory", "ignored-decision")


def test_a_group_member_may_decide_only_with_the_group() -> None:
    wiki = filed().append("Grouped", ":{{ATS decline}} spam [[User:Grouped|Grouped]]\n")
    item, found = plan(wiki)
    decisions.decide(found, {"Grouped": ("toolserver-admin",)}, {}, NOW, SETTINGS)
    assert item.state == State.DECLINED
    other, found = plan(wiki)
    decisions.decide(found, {"Grouped": ("autoconfirmed",)}, {}, NOW, SETTINGS)
    assert other.state == "awaiting-approval"
    assert other.decisions[0]["reason"] == "not-admin"


def test_the_requester_may_withdraw_but_not_approve() -> None:
    wiki = filed().append("Veteran", f":{{{{ATS withdraw}}}} {SIGNED}\n")
    item, found = plan(wiki)
    decisions.decide(found, {}, {}, NOW, SETTINGS)
    assert item.state == State.WITHDRAWN
    item, found = plan(filed().append("Veteran", f":{{{{ATS approve}}}} {SIGNED}\n"))
    decisions.decide(found, {}, {}, NOW, SETTINGS)
    assert item.state == "awaiting-approval" and item.decisions[0]["honoured"] is False


def test_a_decision_on_a_closed_request_is_ignored_with_the_reason() -> None:
    item, found = plan(
        filed().append("ChapterAdmin", f":{{{{ATS approve}}}} {ADMIN_SIG}\n"), state="withdrawn"
    )
    decisions.decide(found, {}, {}, NOW, SETTINGS)
    assert item.state == "withdrawn"
    assert item.decisions[0]["reason"] == "closed"


def test_a_template_the_store_has_seen_is_not_acted_on_again() -> None:
    wiki = filed().append("ChapterAdmin", f":{{{{ATS approve}}}} {ADMIN_SIG}\n")
    parsed, history = wiki.read()
    [section] = parsed.requests
    item = Planned(section, record(section, id=3, state="awaiting-approval"), {})
    assert decisions.new_decisions([item], {3: {("{{ATS approve}}", 1)}}, history) == []
    assert len(decisions.new_decisions([item], {3: {("{{ATS hold}}", 1)}}, history)) == 1


def test_a_template_first_seen_in_a_revert_belongs_to_nobody() -> None:
    wiki = filed()
    before = wiki.text()
    wiki.append("ChapterAdmin", f":{{{{ATS approve}}}} {ADMIN_SIG}\n")
    wiki.edit("Mallory", before)  # removed...
    wiki.edit("Mallory", before + f":{{{{ATS approve}}}} {ADMIN_SIG}\n")  # ...and restored
    _, found = plan(wiki)
    [(_, _, origin)] = found
    assert origin is not None and origin.user == "ChapterAdmin"


def test_a_recheck_judges_again_on_fresh_records_with_the_asker_named() -> None:
    wiki = filed().append("Newcomer", ":{{ATS recheck}} [[User:Newcomer|Newcomer]]\n")
    item, found = plan(wiki, state="not-eligible")
    assert decisions.recheck_subjects(found, {}, SETTINGS) == ["Veteran"]
    decisions.decide(found, {}, {"Veteran": veteran()}, NOW, SETTINGS)
    assert item.state == State.AWAITING_IDENTITY
    [(_, text)] = item.replies
    assert text.startswith("Checked again at [[User:Newcomer|Newcomer]]'s request: ")
    assert "https://bridge.example" in text
    assert item.decisions[0]["reason"] == "rechecked"


def test_a_recheck_of_a_request_past_judging_is_ignored() -> None:
    wiki = filed().append("Newcomer", ":{{ATS recheck}} [[User:Newcomer|Newcomer]]\n")
    item, found = plan(wiki, state="approved")
    decisions.decide(found, {}, {}, NOW, SETTINGS)
    assert item.state == "approved"
    assert item.decisions[0]["reason"] == "not-recheckable"


def test_an_approval_edited_away_is_voided_when_judged_again() -> None:
    parsed, _ = filed().read()
    [section] = parsed.requests
    old = record(
        section,
        state="approved",
        approved_by="ChapterAdmin",
        content_hash="before",
        fields_hash="before",
    )
    [item] = planning.select(parsed, {section.key: old}, NOW, SETTINGS)
    to_judge, edited_after = planning.triage([item], SETTINGS.bot_user)
    assert to_judge == edited_after == [item]
    judging.judge(to_judge, {"Veteran": veteran()}, {}, NOW, SETTINGS)
    planning.void_approvals(edited_after, SETTINGS.bot_user)
    assert item.values["approved_by"] is None
    assert item.audit[-1][1] == "approval-voided-by-edit"
