"""The mail when an account's databases go over the size limit (runtime/database_mail.py):
to a tool's maintainers in good standing or to the member, in the tool request's language,
saying the sizes and what to do; queued once per crossing, only with a relay, and sent by
the jobs service's sender like the jobs' mails."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from email import message_from_bytes

import pytest

from ats.config import MailSettings
from membership.records import DatabaseUsage
from membership.store import Store
from runtime import database_mail, mail
from tests.builders import add_request

SETTINGS = MailSettings(relay="127.0.0.1", sender="tools@ts.example", recipient_domain="ts.example")
MB = 1024 * 1024
TOOL = DatabaseUsage(
    user="s51234",
    kind="tool",
    name="bot",
    owner="bot",
    total=12 * MB + MB // 3,
    limit=10 * MB,
    over=True,
    over_since="2026-03-01T12:00:05+00:00",
    crossings=1,
    observed_at="2026-03-01T12:00:05+00:00",
    databases=(("s51234__cache", 12 * MB), ("s51234__counts", MB // 3)),
)
MEMBER = replace(TOOL, user="u10001", kind="person", name="alice", owner="Alice", databases=())


@pytest.fixture
def maintained(store: Store) -> Store:
    """Alice and Bob (suspended) maintain the tool bot; Alice has an account of her own."""
    store.record_account("alice", "person", "Alice", 5001)
    store.record_account("bob", "person", "Bob", 5002)
    store.set_account_suspended("bob", "lapsed")
    store.set_tool_maintainers("bot", ["Alice", "Bob"], "Admin")
    return store


def test_the_mail_says_the_sizes_the_limit_and_what_to_do() -> None:
    words = database_mail.compose(TOOL)
    assert words.subject == "[bot] Databases over the size limit"
    assert words.body.startswith(
        "The databases of the tool bot held 12.3 MB at 2026-03-01 12:00:05 UTC, more than "
        "the chapter's limit of 10.0 MB.\n\nIts databases (database user s51234):\n"
        "    s51234__cache: 12.0 MB\n    s51234__counts: 0.3 MB\n"
    )
    assert "\n    become bot\n    toolforge jobs quota\n" in words.body
    assert "OPTIMIZE TABLE" in words.body and "again only if they go back under" in words.body
    member = database_mail.compose(MEMBER)
    assert member.body.startswith("The databases of your account alice held 12.3 MB")
    assert "become" not in member.body  # a member's own databases: no tool to become


@pytest.mark.parametrize(
    ("lang", "size"), [("de", "12,3 MB"), ("fr", "12,3 Mo"), ("he", "12.3 MB")]
)
def test_the_mail_is_written_in_the_language_with_its_numbers(lang: str, size: str) -> None:
    english = database_mail.compose(TOOL)
    words = database_mail.compose(TOOL, lang)
    assert f" {size}" in words.body.splitlines()[0] and "$" not in words.subject + words.body
    english_lines = {line for line in english.body.splitlines() if "s51234__" not in line}
    assert (english_lines - {"", "-- "}) & set(words.body.splitlines()) == {
        "    become bot",
        "    toolforge jobs quota",
    }


def test_it_goes_to_the_maintainers_in_good_standing_or_the_member(maintained: Store) -> None:
    assert database_mail.addresses(maintained, TOOL, "ts.example") == ("alice@ts.example",)
    assert database_mail.addresses(maintained, MEMBER, "ts.example") == ("alice@ts.example",)
    suspended = replace(MEMBER, name="bob", owner="Bob")
    assert database_mail.addresses(maintained, suspended, "ts.example") == ()


def test_its_language_is_the_tool_requests_or_the_members_newest(maintained: Store) -> None:
    assert database_mail.language(maintained, TOOL) == "en"
    add_request(maintained, "Alice", type="tool", state="done", fields={"tool": "bot"}, lang="fr")
    assert database_mail.language(maintained, TOOL) == "fr"
    add_request(maintained, "Alice", key="own", state="done", lang="de-at")
    assert database_mail.language(maintained, MEMBER) == "de"


def test_one_mail_per_crossing_only_with_a_relay_and_sent_like_a_jobs_mail(
    maintained: Store,
) -> None:
    database_mail.notice(maintained, replace(SETTINGS, relay=""), TOOL)
    assert maintained.tool_job_mails() == []
    notice = database_mail.notices(SETTINGS)
    for _ in range(2):  # the same crossing told twice (it never is): queued once
        notice(maintained, TOOL)
    notice(maintained, replace(TOOL, crossings=2))
    first, second = maintained.tool_job_mails()
    assert (first.tool, first.job, first.run_key, first.event) == (
        "bot",
        "",
        "s51234/1",
        "databases-over-limit",
    )
    assert second.run_key == "s51234/2"
    assert first.recipients == ("alice@ts.example",)
    built = message_from_bytes(bytes(mail.message(first, SETTINGS.sender)))
    assert built["Subject"] == "[bot] Databases over the size limit"
    assert built["To"] == "alice@ts.example" and built["Message-ID"] != mail.message_id(
        second, SETTINGS.sender
    )
    assert datetime.fromisoformat(first.created_at) <= datetime.now(UTC)
