"""The bot's progress replies (states the bridge or provisioning set): each fact said once,
in every state, for every combination of gates, in every language; the done reply's first
commands; and which replies a cycle says (a requester's steps once they rest, provisioning
folded into "approved")."""

from __future__ import annotations

import itertools
import re
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from bot.rules import planning, replies
from bot.rules.messages import Catalog, available_languages
from tests.unit.clerk_data import NOW, SETTINGS, Wiki, record, request

STATES = (
    "awaiting-identity",
    "awaiting-requester",
    "awaiting-approval",
    "approved",
    "provisioning",
    "failed",
    "done",
    "on-hold",
)
GATES = ("terms", "ssh-key", "fee", "identification")
TOOL_GATES = ("licence", "maintainers")
LANGUAGES = sorted(available_languages())
# The fragments a progress reply is built from: none may appear twice in one reply.
FRAGMENTS = (
    "fee-pending",
    "fee-settled",
    "identification-pending",
    "identification-received",
    "terms-done",
    "ssh-key-done",
    *(f"gate-{g}" for g in GATES + TOOL_GATES),
)


def combinations(tool: bool) -> list[dict[str, bool]]:
    names = GATES + (TOOL_GATES if tool else ())
    return [
        dict(zip(names, done, strict=True))
        for done in itertools.product((False, True), repeat=len(names))
    ]


def render(lang: str, state: str, gates: dict[str, bool], **extra: str) -> str:
    return replies.progress(
        Catalog(lang),
        state,
        gates,
        requester="Example",
        admin="Admin",
        bridge_url="https://bridge.example/",
        account="example",
        login_host="login.example.org",
        **extra,
    )


def clauses(text: str) -> list[str]:
    """The reply cut at its punctuation, each piece lower-cased and trimmed: a clause said
    twice shows as the same piece twice."""
    plain = re.sub(r"<[^>]+>|\[\[[^]]*\]\]|https?://\S+", " ", text)
    pieces = re.split(r"[.;,()!¡]|&#32;", plain)
    return [" ".join(p.split()).lower() for p in pieces if len(p.split()) >= 1]


def test_every_language_is_checked() -> None:
    assert {"en", "de", "fr", "es", "he"} <= set(LANGUAGES)


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("tool", [False, True])
def test_no_fact_is_said_twice(lang: str, tool: bool) -> None:
    catalog = Catalog(lang)
    fragments = {key: catalog.text("progress", key) for key in FRAGMENTS}
    for state in STATES:
        for gates in combinations(tool):
            text = render(lang, state, gates)
            said = [c for c in clauses(text) if c]
            repeated = {c for c in said if said.count(c) > 1}
            assert not repeated, f"{lang} {state} {gates}: {text}"
            for key, fragment in fragments.items():
                assert text.count(fragment) <= 1, f"{lang} {state} {gates}: {key} twice in {text}"


def test_the_reported_repetition_is_gone() -> None:
    text = render("en", "awaiting-requester", {"terms": True, "ssh-key": True})
    assert text.count("fee") == 1
    assert text.count("identif") == 1
    assert "settle the yearly fee" in text
    assert "waiver" not in text  # public: never says how a fee is settled
    assert "identify privately to a chapter admin" in text


def test_a_step_left_is_never_also_a_fact() -> None:
    gates = {"terms": False, "ssh-key": True, "fee": True, "identification": False}
    text = render("en", "awaiting-requester", gates)
    assert "accept the terms of use" in text
    assert "fee: settled" in text
    assert "add an SSH public key" not in text
    assert "identify privately" in text
    assert "identification: pending" not in text


def test_tool_gates_are_steps_only_on_a_tool_request() -> None:
    person = render("en", "awaiting-requester", dict.fromkeys(GATES, True))
    assert "licence" not in person and "maintainer" not in person
    tool = render("en", "awaiting-requester", {**dict.fromkeys(GATES, True), "licence": False})
    assert "give an OSI-approved licence" in tool


@pytest.mark.parametrize("lang", LANGUAGES)
def test_done_names_the_first_command(lang: str) -> None:
    text = render(lang, "done", {})
    assert "<code>ssh example@login.example.org</code>" in text
    assert "become" not in text


@pytest.mark.parametrize("lang", LANGUAGES)
def test_done_for_a_tool_names_ssh_then_become(lang: str) -> None:
    text = replies.progress(
        Catalog(lang),
        "done",
        {},
        requester="Example",
        admin="",
        bridge_url="https://bridge.example/",
        account="tools.hebrew-links",
        login_host="login.example.org",
        login="example",
        tool="hebrew-links",
    )
    assert "<code>ssh example@login.example.org</code>" in text
    assert "<code>become hebrew-links</code>" in text
    assert text.index("ssh example@") < text.index("become hebrew-links")


def test_done_without_a_login_host_names_no_command() -> None:
    text = replies.progress(
        Catalog(), "done", {}, requester="Example", admin="", bridge_url="https://b/", account="ex"
    )
    assert "ssh" not in text.replace("SSH", "")
    assert "<nowiki>ex</nowiki>" in text


@pytest.mark.parametrize("host", ["evil.example; rm -rf ~", "<b>x</b>", "{{ATS approve}}"])
def test_a_host_that_is_not_a_plain_name_is_never_put_in_a_command(host: str) -> None:
    text = replies.progress(
        Catalog(),
        "done",
        {},
        requester="Example",
        admin="",
        bridge_url="https://b/",
        account="ex",
        login_host=host,
    )
    assert "ssh ex@" not in text
    assert host not in text


# -- which progress replies a cycle says (planning.progress, pure) -----------------------


def _plan(state: str, said: str, *, quiet: float, settle: float = 60.0) -> list[Any]:
    parsed, _ = Wiki().edit("Veteran", "Requests.\n\n" + request("Account request: Veteran")).read()
    [section] = parsed.requests
    stamp = (NOW - timedelta(seconds=quiet)).isoformat()
    owed = planning.Owed(record(section, state=state, progress_at=stamp), said)
    planned: list[Any] = []
    planning.progress(parsed, planned, [owed], NOW, replace(SETTINGS, progress_settle=settle))
    return planned


def test_a_requesters_steps_are_said_once_they_rest() -> None:
    assert _plan("awaiting-requester", "awaiting-identity", quiet=10) == []
    assert _plan("awaiting-approval", "awaiting-requester", quiet=59) == []
    [item] = _plan("awaiting-approval", "awaiting-requester", quiet=61)
    assert [state for state, _ in item.replies] == ["awaiting-approval"]


def test_states_others_set_are_said_at_once() -> None:
    for state, said in (("approved", "awaiting-approval"), ("done", "approved")):
        [item] = _plan(state, said, quiet=0)
        assert [s for s, _ in item.replies] == [state]


def test_provisioning_after_approved_or_failed_is_folded_not_posted() -> None:
    for said in ("approved", "failed"):
        [item] = _plan("provisioning", said, quiet=0)
        assert item.replies == []
        assert [a for _, a, _ in item.audit] == ["progress-folded"]
    [item] = _plan("provisioning", "awaiting-approval", quiet=0)
    assert [s for s, _ in item.replies] == ["provisioning"]
