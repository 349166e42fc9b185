"""The bot's reply lines (contract §2 "Bot replies"): format, wording, and that nothing a user
typed can make the bot write a live template, link or signature."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import mwparserfromhell
import pytest

from bot.rules import messages, replies
from bot.rules.messages import Catalog
from policies.eligibility import Block, EligibilityPolicy, UserRecord, Verdict, evaluate
from policies.requests import Problem, validate

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
EN = Catalog()

PAYLOADS = [
    "{{ATS approve}}",
    "[[Foo]]",
    "</nowiki>{{x}}",
    "</NOWIKI >{{x}}[[Foo]]",
    "~~~~",
    "~~~",
    "<nowiki>{{x}}</nowiki>{{ATS approve|override=x}}",
    "x\n== Account request: Evil ==\n{{ATS approve}}",
    "[[User:Victim|Victim]] {{subst:ATS approve}} [https://evil.example x]",
]


def verdict(**changes: Any) -> Verdict:
    values: dict[str, Any] = {
        "name": "Example",
        "editcount": 2431,
        "registration": NOW - timedelta(days=6 * 365 + 10),
        "recent_edits": 1234,
        "wikis": 7,
        "source": "central",
    }
    values.update(changes)
    return evaluate(EligibilityPolicy(), UserRecord(**values), NOW)


# A refusal names {{ATS recheck}} inside <nowiki>: shown, never live.
REFUSAL = ("ATS status",)


def assert_inert(
    line: str,
    users: tuple[str, ...] = (),
    urls: tuple[str, ...] = (),
    own: tuple[str, ...] = ("ATS status",),
) -> None:
    """Only the bot's own markup is live in `line`: {{ATS status}}, links to `users` and the
    bridge's `urls`, one signature at the end."""
    assert "\n" not in line
    code = mwparserfromhell.parse(line)
    templates = [str(t.name).strip() for t in code.filter_templates(recursive=True)]
    assert templates == list(own)
    links = [str(link.title) for link in code.filter_wikilinks(recursive=True)]
    assert all(title in {f"User:{u}" for u in users} for title in links), links
    assert [str(link.url) for link in code.filter_external_links(recursive=True)] == list(urls)
    outside = "".join(
        str(node)
        for node in code.nodes
        if not (hasattr(node, "tag") and str(node.tag).lower() == "nowiki")
    )
    assert outside.count("~~~") == 1 and outside.endswith(" ~~~~")
    assert "</nowiki>" not in "".join(
        str(t.contents) for t in code.filter_tags(recursive=True) if str(t.tag) == "nowiki"
    )


def test_reply_line_format() -> None:
    line = replies.reply_line("ATS status", "awaiting-identity", "Eligible.")
    assert line == ":{{ATS status|awaiting-identity}} Eligible. ~~~~"
    assert replies.reply_prefix("ATS status", "done", "Done.") == ":{{ATS status|done}} Done."
    assert replies.reply_line("Statut ATS", "done", "x") == ":{{Statut ATS|done}} x ~~~~"


def test_awaiting_identity_reply_reads_like_the_spec() -> None:
    text = replies.awaiting_identity(EN, verdict(), NOW, "Example", "http://127.0.0.1:5000")
    assert text.startswith("[[User:Example|Example]]: eligible: 2,431 edits on 7 wikis, ")
    assert "account 6 years old (registered 2019-" in text
    assert "1,234 edits in the last 365 days" in text
    assert "no blocks and not locked" in text
    assert "log in at http://127.0.0.1:5000" in text
    line = replies.reply_line("ATS status", "awaiting-identity", text)
    assert_inert(line, ("Example",), ("http://127.0.0.1:5000",))


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_block_reason_stays_inert(payload: str) -> None:
    blocks = (
        Block(wiki="", by="Admin", reason=payload, expiry="infinite"),
        Block(wiki=payload, by=payload, reason="x", expiry="2030-01-01T00:00:00Z"),
    )
    text = replies.not_eligible(EN, verdict(blocks=blocks), NOW)
    assert "blocked by [[User:Admin|Admin]] (<nowiki>" in text
    assert "expires never" in text and "expires 2030-01-01 00:00:00 UTC" in text
    assert_inert(replies.reply_line("ATS status", "not-eligible", text), ("Admin",), own=REFUSAL)


@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.parametrize(
    "fields",
    [
        {"type": "tool", "purpose": "x", "tool": "{p}", "license": "MIT", "maintainers": "A"},
        {"type": "tool", "purpose": "x", "tool": "ok", "license": "{p}", "maintainers": "A"},
        {"type": "{p}", "purpose": "x"},
    ],
)
def test_field_values_in_an_invalid_reply_stay_inert(payload: str, fields: dict[str, str]) -> None:
    filled = {k: v.replace("{p}", payload) for k, v in fields.items()}
    problems = validate(filled)
    assert problems, "the payload must be refused"
    text = replies.invalid(EN, problems, "Example")
    assert text.startswith("[[User:Example|Example]]: this request cannot be processed yet: ")
    assert_inert(replies.reply_line("ATS status", "invalid", text), ("Example",))


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_typed_username_stays_inert(payload: str) -> None:
    # `username` is typed by the requester; it reaches replies for a missing account.
    missing = evaluate(EligibilityPolicy(), UserRecord(payload, status="missing"), NOW)
    text = replies.on_behalf(EN, "Example", payload) + " " + replies.not_eligible(EN, missing, NOW)
    line = replies.reply_line("ATS status", "not-eligible", text)
    assert_inert(line, ("Example",), own=REFUSAL)
    invalid = replies.invalid(EN, (Problem("missing-field", {"field": "purpose"}),), payload)
    assert_inert(replies.reply_line("ATS status", "invalid", invalid))


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_received_reason_stays_inert(payload: str) -> None:
    assert_inert(replies.reply_line("ATS status", "received", replies.received(EN, payload)))


def test_nowiki_escapes_angle_brackets_and_skips_empty_values() -> None:
    assert replies.nowiki("</nowiki>") == "<nowiki>&lt;/nowiki&gt;</nowiki>"
    assert replies.nowiki("a\n\nb") == "<nowiki>a b</nowiki>"
    assert replies.nowiki("") == ""


@pytest.mark.parametrize(
    ("days", "wording"),
    [
        (0, "0 days"),
        (1, "1 day"),
        (45, "45 days"),
        (59, "59 days"),
        (60, "2 months"),
        (95, "3 months"),
        (364, "12 months"),
        (365, "1 year"),
        (729, "1 year"),
        (6 * 365 + 2, "6 years"),
    ],
)
def test_age_wording(days: int, wording: str) -> None:
    assert replies.age(EN, days) == wording


@pytest.mark.parametrize(
    ("editcount", "wikis", "expected"),
    [
        (2431, 7, "2,431 edits on 7 wikis"),
        (1_234_567, 1, "1,234,567 edits"),
        (500, 1, "500 edits"),
    ],
)
def test_numbers_have_thousands_separators(editcount: int, wikis: int, expected: str) -> None:
    text = replies.awaiting_identity(
        EN, verdict(editcount=editcount, wikis=wikis), NOW, "Example", "http://x"
    )
    assert f"eligible: {expected}, " in text


def test_not_eligible_names_every_failed_criterion_with_its_shortfall() -> None:
    failing = verdict(
        editcount=499,
        registration=NOW - timedelta(days=100, hours=1),
        recent_edits=9,
        locked=True,
        blocks=(Block(wiki="dewiki", by="", reason="spam", expiry="infinity"),),
    )
    text = replies.not_eligible(EN, failing, NOW)
    failed = text.split(": ", 1)[1]
    assert "499 edits where 500 are needed (1 short)" in failed
    assert "account 3 months old (registered 2025-02-21) where 182 days are needed " in failed
    assert "(82 days short)" in failed
    assert "9 edits in the last 365 days where 10 are needed (1 short)" in failed
    assert "blocked on <nowiki>dewiki</nowiki> (<nowiki>spam</nowiki>; expires never)" in failed
    assert "the account is globally locked" in failed
    assert " Met:" not in text
    assert "<nowiki>{{ATS recheck}}</nowiki>" in text


def test_not_eligible_also_says_what_was_met() -> None:
    text = replies.not_eligible(EN, verdict(editcount=10), NOW)
    assert "10 edits where 500 are needed (490 short)" in text
    assert " Met: account 6 years old" in text
    assert "there is no account" not in text


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("missing", "there is no account named <nowiki>Nobody</nowiki>"),
        ("invalid", "<nowiki>Nobody</nowiki> is not a registered account"),
        ("hidden", "the account <nowiki>Nobody</nowiki> is hidden"),
    ],
)
def test_unusable_accounts(status: str, expected: str) -> None:
    result = evaluate(EligibilityPolicy(), UserRecord("Nobody", status=status), NOW)
    assert expected in replies.not_eligible(EN, result, NOW)


def test_an_account_without_registration_date() -> None:
    text = replies.awaiting_identity(EN, verdict(registration=None), NOW, "Example", "http://x")
    assert "account registered before 2006" in text


def test_problem_messages() -> None:
    problems = (
        Problem("missing-field", {"field": "purpose"}),
        Problem("reserved-tool-name", {"tool": "root"}),
    )
    text = replies.invalid(EN, problems, "Example")
    assert "the field <code>purpose</code> is empty or missing; " in text
    assert "the tool name <nowiki>root</nowiki> is reserved" in text


def test_every_problem_code_has_a_message() -> None:
    args = {"field": "f", "type": "t", "tool": "t", "license": "l", "count": 2, "allowed": ()}
    english = messages._load("en")
    codes = [
        k.removeprefix("ats-bot-problem-") for k in english if k.startswith("ats-bot-problem-")
    ]
    for code in codes:
        assert EN.text("problem", code, **args)
    for code in (
        "no-template",
        "several-templates",
        "missing-field",
        "unknown-type",
        "bad-tool-name",
        "reserved-tool-name",
        "bad-license",
        "license-not-osi",
        "missing-source",
    ):
        assert code in codes


def test_catalog_falls_back_to_english(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Catalog("xx").lang == "en"
    assert Catalog("xx").text("age", "days", n=1) == "1 day"
    french = {"ats-bot-age-days": "$1 {{PLURAL:$1|jour|jours}}"}
    monkeypatch.setattr(messages, "available_languages", lambda: frozenset({"en", "fr"}))
    real_load = messages._load
    monkeypatch.setattr(messages, "_load", lambda lang: french if lang == "fr" else real_load(lang))
    fr = Catalog("fr")
    assert fr.lang == "fr"
    assert fr.text("age", "days", n=1) == "1 jour"
    assert fr.text("age", "years", n=3) == "3 years"  # missing in French: English
