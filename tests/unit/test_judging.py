"""Judging with plain data: a page history, user records, the store's last replies."""

from __future__ import annotations

from dataclasses import replace

from bot.rules import judging
from membership.states import State
from tests.unit.clerk_data import NOW, SETTINGS, Wiki, planned_new, record, request, veteran

SIGNED = "[[User:Veteran|Veteran]] 10:00, 1 May 2026 (UTC)"


def filed(user: str = "Veteran", **fields: str) -> Wiki:
    return Wiki().append(user, request("Account request", SIGNED, **fields))


def test_the_requester_is_whoever_saved_the_revision_that_first_held_it() -> None:
    wiki = filed("Veteran").append("Newcomer", "\nA comment. ~~~~\n")
    [item], _ = planned_new(wiki)
    assert item.requester == "Veteran"
    assert item.values["intro_revid"] == 1
    [(actor, action, evidence)] = item.audit
    assert (actor, action, evidence["requester"]) == ("ClerkBot", "attributed", "Veteran")


def test_an_eligible_requester_is_sent_to_the_bridge() -> None:
    [item], _ = planned_new(filed())
    judging.judge([item], {"Veteran": veteran()}, {}, NOW, SETTINGS)
    assert item.state == State.AWAITING_IDENTITY
    [(state, text)] = item.replies
    assert state == "awaiting-identity" and "https://bridge.example" in text
    assert item.audit[-1][1] == "evaluated:awaiting-identity"
    assert item.values["detail"]["source"] == "local"


def test_a_requester_short_of_edits_is_not_eligible_and_told_why() -> None:
    [item], _ = planned_new(filed())
    judging.judge([item], {"Veteran": veteran(editcount=12)}, {}, NOW, SETTINGS)
    assert item.state == State.NOT_ELIGIBLE
    [(_, text)] = item.replies
    assert "12" in text and "bridge.example" not in text
    edits = next(c for c in item.values["detail"]["verdict"] if c["name"] == "edits")
    assert edits["passed"] is False


def test_a_request_without_a_purpose_is_invalid_and_nobody_is_looked_up() -> None:
    [item], _ = planned_new(filed(purpose=""))
    assert judging.lookups_needed([item]) == []
    judging.judge([item], {}, {}, NOW, SETTINGS)
    assert item.state == State.INVALID
    assert item.values["detail"] == {"problems": ["missing-field"]}


def test_a_request_for_someone_else_is_judged_on_that_account() -> None:
    [item], _ = planned_new(filed("Veteran", username="User:Dormant_account"))
    assert judging.lookups_needed([item]) == ["Dormant account"]
    users = {"Dormant account": veteran("Dormant account", editcount=3)}
    judging.judge([item], users, {}, NOW, SETTINGS)
    assert item.subject == "Dormant account" and item.requester == "Veteran"
    assert item.state == State.NOT_ELIGIBLE
    [(_, text)] = item.replies
    assert text.index("Veteran") < text.index("Dormant account")


def test_a_failed_look_up_leaves_the_request_received_for_the_next_cycle() -> None:
    [item], _ = planned_new(filed())
    users = {"Veteran": "the wiki did not answer the user look-up: timeout"}
    judging.judge([item], users, {}, NOW, SETTINGS)
    assert item.state == State.RECEIVED
    assert item.values["detail"] == {"reason": users["Veteran"]}


def test_a_request_nobody_can_be_credited_with_is_not_looked_up() -> None:
    [item], _ = planned_new(Wiki().append("", request("Account request")))
    assert item.requester == "" and judging.lookups_needed([item]) == []
    judging.judge([item], {}, {}, NOW, SETTINGS)
    assert (item.state, item.values["detail"]) == (State.RECEIVED, {"reason": "unattributed"})


def test_the_same_verdict_as_the_last_reply_is_not_said_again() -> None:
    [first], _ = planned_new(filed())
    judging.judge([first], {"Veteran": veteran(editcount=12)}, {}, NOW, SETTINGS)
    [said] = first.replies
    [again], _ = planned_new(filed())
    again.record = record(again.section, id=7, state="not-eligible")
    judging.judge([again], {"Veteran": veteran(editcount=12)}, {7: said}, NOW, SETTINGS)
    assert again.replies == [] and again.state == State.NOT_ELIGIBLE
    judging.judge([again], {"Veteran": veteran(editcount=13)}, {7: said}, NOW, SETTINGS)
    assert len(again.replies) == 1


def test_a_prefix_opens_the_reply_even_when_it_repeats_the_last_one() -> None:
    [item], _ = planned_new(filed())
    item.record = record(item.section, id=7, state="awaiting-identity")
    judging.judge([item], {"Veteran": veteran()}, {}, NOW, SETTINGS)
    said = item.replies.pop()
    prefix = {id(item): "Rechecked."}
    judging.judge([item], {"Veteran": veteran()}, {7: said}, NOW, SETTINGS, prefix=prefix)
    [(_, text)] = item.replies
    assert text == "Rechecked. " + said[1]


def test_the_reply_is_in_the_request_language_even_its_reason() -> None:
    fields = "{{ATS request\n | type = account\n | purpose = x\n | lang = de\n}}\n"
    section = "== Account request ==\n" + fields
    [item], _ = planned_new(Wiki().append("", section))
    judging.judge([item], {}, {}, NOW, SETTINGS)
    [(_, text)] = item.replies
    assert text.startswith("Eingegangen. ")
    assert "<nowiki>die Versionsgeschichte zeigt nicht, wer sie hinzugefügt hat</nowiki>" in text


def test_a_request_naming_no_language_is_answered_in_the_content_language() -> None:
    [item], _ = planned_new(Wiki().append("", request("Account request")))
    judging.judge([item], {}, {}, NOW, replace(SETTINGS, content_lang="he"))
    [(_, text)] = item.replies
    assert item.values["lang"] == "he" and text.startswith("התקבלה. ")
    assert "בקשה זו מבקשת" not in text  # no fallback note: none was asked for
