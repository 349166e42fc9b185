"""The clerk against a real MediaWiki: one cycle answers requests, explains itself,
never repeats itself and never overwrites a human."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests

from tests.builders import request_section, request_wikitext
from tests.integration.conftest import WikiBot


def bot_replies(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(":{{ATS status|")]


def section(text: str, heading: str) -> str:
    start = text.index(f"== {heading} ==")
    following = text.find("\n== ", start + 1)
    return text[start : following if following != -1 else len(text)]


def live_user(wikibot: WikiBot, name: str) -> dict:
    response = requests.get(
        wikibot.wiki.api_url,
        params={
            "action": "query",
            "list": "users",
            "ususers": name,
            "format": "json",
            "usprop": "editcount|registration|blockinfo",
            "formatversion": 2,
        },
        timeout=30,
    )
    return response.json()["query"]["users"][0]


def test_established_user_is_told_the_numbers_and_the_next_step(wikibot: WikiBot) -> None:
    wikibot.file("Veteran", "Account request: Veteran")
    result = wikibot.cycle()
    assert "saved" in result.stdout
    reply = section(wikibot.text(), "Account request: Veteran")
    [line] = bot_replies(reply)
    assert line.startswith(":{{ATS status|awaiting-identity}}")
    editcount = live_user(wikibot, "Veteran")["editcount"]
    assert f"{editcount:,} edits" in line
    assert "6 years old" in line
    assert "no blocks" in line
    assert "http://127.0.0.1:5000" in line  # where to go next
    assert "[[User:ClerkBot|ClerkBot]]" in line  # signed by the bot
    store = wikibot.store()
    [record] = store.requests(wikibot.page)
    assert (record.requester, record.subject, record.state) == (
        "Veteran",
        "Veteran",
        "awaiting-identity",
    )
    actions = [e.action for e in store.audit_log(record.id)]
    assert "filed" in actions and "evaluated:awaiting-identity" in actions


def test_newcomer_is_told_each_failed_criterion_and_by_how_much(wikibot: WikiBot) -> None:
    wikibot.file("Newcomer", "Account request: Newcomer")
    wikibot.cycle()
    [line] = bot_replies(wikibot.text())
    assert line.startswith(":{{ATS status|not-eligible}}")
    editcount = live_user(wikibot, "Newcomer")["editcount"]
    assert f"{editcount} edits where 500 are needed ({500 - editcount} short)" in line
    assert "20 days old" in line and "(162 days short)" in line
    assert "no blocks" in line  # what was met is said too


def test_blocked_user_is_refused_with_the_block_named(wikibot: WikiBot) -> None:
    wikibot.file("Blocked Veteran", "Account request: Blocked Veteran")
    wikibot.cycle()
    [line] = bot_replies(wikibot.text())
    assert line.startswith(":{{ATS status|not-eligible}}")
    block = live_user(wikibot, "Blocked Veteran")
    assert "blocked by [[User:Admin|Admin]]" in line
    assert "Persistent vandalism" in line
    assert block["blockexpiry"][:10] in line


def test_malformed_request_is_invalid_until_fixed(wikibot: WikiBot) -> None:
    wikibot.file(
        "Veteran",
        "Account request: Veteran",
        request_wikitext("acount", purpose=""),
    )
    wikibot.cycle()
    [line] = bot_replies(wikibot.text())
    assert line.startswith(":{{ATS status|invalid}}")
    assert "type must be account or tool, not <nowiki>acount</nowiki>" in line
    assert "the field <code>purpose</code> is empty or missing" in line
    assert "[[User:Veteran|Veteran]]" in line  # the requester is pinged

    fixed = wikibot.text().replace("type = acount", "type = account\n | purpose = Bots.")
    wikibot.wiki.edit_as("Veteran", wikibot.page, fixed, "fix my request")
    wikibot.cycle()
    lines = bot_replies(wikibot.text())
    assert len(lines) == 2
    assert lines[1].startswith(":{{ATS status|awaiting-identity}}")
    [record] = wikibot.store().requests(wikibot.page)
    assert record.state == "awaiting-identity"


def test_request_heading_without_template_is_invalid(wikibot: WikiBot) -> None:
    wikibot.file("Veteran", "Account request: please", "Can I have an account? ~~~~")
    wikibot.cycle()
    [line] = bot_replies(wikibot.text())
    assert line.startswith(":{{ATS status|invalid}}")
    assert "there is no <nowiki>{{ATS request}}</nowiki> template" in line


def test_unsigned_request_belongs_to_whoever_added_it(wikibot: WikiBot) -> None:
    # Signed as someone else, and one not signed at all: the history decides.
    wikibot.file(
        "Veteran",
        "Account request: forged",
        request_wikitext(signature="[[User:Newcomer|Newcomer]] 12:00, 1 January 2026 (UTC)"),
    )
    wikibot.file("Ярослава", "Account request: unsigned", request_wikitext(signature=""))
    wikibot.cycle()
    records = {r.heading: r for r in wikibot.store().requests(wikibot.page)}
    assert records["Account request: forged"].requester == "Veteran"
    assert records["Account request: unsigned"].requester == "Ярослава"
    assert records["Account request: unsigned"].state == "awaiting-identity"
    revisions = {r["revid"]: r["user"] for r in wikibot.revisions()}
    assert revisions[records["Account request: unsigned"].intro_revid] == "Ярослава"


def test_request_on_behalf_of_someone_else(wikibot: WikiBot) -> None:
    wikibot.file(
        "Veteran",
        "Account request: for a friend",
        request_wikitext(username="Dormant"),
    )
    wikibot.cycle()
    [record] = wikibot.store().requests(wikibot.page)
    assert (record.requester, record.subject, record.on_behalf) == ("Veteran", "Dormant", True)
    [line] = bot_replies(wikibot.text())
    assert "on behalf of [[User:Dormant|Dormant]]" in line
    assert line.startswith(":{{ATS status|not-eligible}}")  # Dormant has no recent edits
    assert "0 edits in the last 365 days where 10 are needed" in line


def test_second_run_without_changes_makes_no_edit_and_few_requests(wikibot: WikiBot) -> None:
    wikibot.file("Veteran", "Account request: Veteran")
    wikibot.cycle()
    before = wikibot.revisions()
    offset = wikibot.wiki.log_size()
    result = wikibot.cycle()
    assert "unchanged" in result.stdout
    assert wikibot.revisions() == before
    # pywikibot checks its saved login (userinfo) when it starts; then one read.
    assert wikibot.wiki.api_requests_since(offset) - 1 <= 4  # minus our own revisions()


def test_dry_run_prints_the_diff_and_saves_nothing(wikibot: WikiBot) -> None:
    wikibot.file("Newcomer", "Account request: Newcomer")
    before = wikibot.revisions()
    result = wikibot.cycle("--dry-run")
    assert "+:{{ATS status|not-eligible}}" in result.stdout
    assert result.stdout.startswith("---")
    assert wikibot.revisions() == before
    assert wikibot.store().requests(wikibot.page) == []
    assert "dry-run" in result.stdout


def test_concurrent_human_edit_survives(wikibot: WikiBot) -> None:
    """A human saves between the bot's read and its save: the bot re-reads, keeps both."""
    from ats import wiring
    from ats.config import load_config

    wikibot.file("Veteran", "Account request: Veteran")
    human = "\n\nA comment saved while the bot was thinking. ~~~~\n"

    def interfere(step: str) -> None:
        if step == "recorded" and "thinking" not in wikibot.text():
            wikibot.wiki.edit_as("Newcomer", wikibot.page, wikibot.text() + human, "comment")

    import os

    os.environ["ATS_BOT_PASSWORD"] = wikibot.wiki.bot_password
    clerk = wiring.clerk(load_config(wikibot.config), checkpoint=interfere)
    report = clerk.run_once()
    assert report.conflicts == 1 and report.status == "saved"
    text = wikibot.text()
    assert "A comment saved while the bot was thinking." in text
    assert len(bot_replies(text)) == 1
    users = [r["user"] for r in wikibot.revisions()]
    assert users[:2] == ["ClerkBot", "Newcomer"]


@pytest.mark.parametrize("step", ["read", "planned", "recorded", "saved", "done"])
def test_killed_mid_cycle_then_restarted_replies_once(wikibot: WikiBot, step: str) -> None:
    wikibot.file("Veteran", "Account request: Veteran")
    killed = wikibot.cycle(env={"ATS_KILL_AT": step}, check=False)
    assert killed.returncode == -9
    wikibot.cycle()
    wikibot.cycle()
    assert len(bot_replies(wikibot.text())) == 1
    [record] = wikibot.store().requests(wikibot.page)
    assert [r.status for r in wikibot.store().replies(record.id)] == ["posted"]


def test_kill_switch_and_nobots_stop_the_bot(wikibot: WikiBot) -> None:
    wikibot.file("Veteran", "Account request: Veteran")
    wikibot.wiki.edit_as("Admin", "Toolserver/Run", "false", "stop the bot")
    try:
        result = wikibot.cycle()
    finally:
        wikibot.wiki.edit_as("Admin", "Toolserver/Run", "true", "start the bot")
    assert "stopped" in result.stdout and "Toolserver/Run" in result.stdout
    assert bot_replies(wikibot.text()) == []
    wikibot.wiki.edit_as("Admin", wikibot.page, "{{nobots}}\n" + wikibot.text(), "no bots")
    assert "stopped" in wikibot.cycle().stdout
    assert bot_replies(wikibot.text()) == []


def test_many_requests_one_edit(wikibot: WikiBot) -> None:
    text = wikibot.text()
    for n in range(12):
        text += "\n" + request_section(f"Account request: batch {n}")
    wikibot.wiki.edit_as("Veteran", wikibot.page, text, "twelve requests")
    before = len(wikibot.revisions())
    wikibot.cycle()
    assert len(wikibot.revisions()) == before + 1
    assert len(bot_replies(wikibot.text())) == 12
    summary = wikibot.revisions()[0]["comment"]
    assert re.search(r"12 replies \(12 awaiting-identity\)", summary)


def test_templates_are_installed_exactly(wikibot: WikiBot) -> None:
    from bot.rules.templates import bundled_templates

    result = wikibot.run("wiki", "install-templates")
    assert "Template:ATS status" in result.stdout
    for template in bundled_templates():
        assert wikibot.wiki.page_text(template.title) == template.text, template.title
    again = wikibot.run("wiki", "install-templates")
    assert "updated" not in again.stdout


def test_unknown_account_and_ip_requester(wikibot: WikiBot) -> None:
    wikibot.file(
        "Veteran",
        "Account request: ghost",
        request_wikitext(username="No Such Person"),
    )
    # An anonymous edit: the API accepts it from 127.0.0.1 with the anonymous token.
    text = wikibot.text() + "\n" + request_section("Account request: anonymous")
    saved = requests.post(
        wikibot.wiki.api_url,
        data={
            "action": "edit",
            "title": wikibot.page,
            "text": text,
            "token": "+\\",
            "format": "json",
            "summary": "anon",
        },
        timeout=30,
    ).json()
    assert saved["edit"]["result"] == "Success"
    wikibot.cycle()
    records = {r.heading: r for r in wikibot.store().requests(wikibot.page)}
    assert records["Account request: anonymous"].requester == "127.0.0.1"
    replies = {
        h: bot_replies(section(wikibot.text(), h))
        for h in ("Account request: ghost", "Account request: anonymous")
    }
    [ghost] = replies["Account request: ghost"]
    assert ghost.startswith(":{{ATS status|not-eligible}}")
    assert "there is no account named <nowiki>No Such Person</nowiki>" in ghost
    [anon] = replies["Account request: anonymous"]
    assert anon.startswith(":{{ATS status|not-eligible}}")
    assert "not a registered account" in anon


def test_bad_credentials_are_reported_and_nothing_is_saved(wikibot: WikiBot) -> None:
    wikibot.file("Veteran", "Account request: Veteran")
    before = wikibot.revisions()
    wrong = wikibot.cycle(env={"ATS_BOT_PASSWORD": "0" * 32}, check=False)
    assert wrong.returncode == 1
    assert "login as ClerkBot@clerk failed" in wrong.stderr
    assert "Traceback" not in wrong.stderr
    missing = wikibot.cycle(env={"ATS_BOT_PASSWORD": ""}, check=False)
    assert missing.returncode == 2
    assert "ATS_BOT_PASSWORD is not set" in missing.stderr
    assert wikibot.revisions() == before
    # The replies were queued, not lost: the next good run posts them once.
    wikibot.cycle()
    assert len(bot_replies(wikibot.text())) == 1


@pytest.mark.process
def test_demo_runs_end_to_end(demo_folder: Path) -> None:
    import subprocess
    import sys

    tmp_path = demo_folder

    result = subprocess.run(
        [sys.executable, "-m", "ats.cli", "demo", "--dir", str(tmp_path), "--no-wait"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "request page: http://127.0.0.1:" in out
    assert "saved: 5 requests on the page, 5 examined" in out
    for line in (
        "awaiting-identity  Account request: Veteran",
        "not-eligible       Account request: Newcomer",
        "not-eligible       Account request: Blocked Veteran",
        "invalid            Tool request: словник",
    ):
        assert line in out
    assert "filed by משתמש ותיק" in out  # the unsigned one, from the history
    again = subprocess.run(
        [sys.executable, "-m", "ats.cli", "demo", "--dir", str(tmp_path), "--no-wait"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert "bot cycle:    unchanged" in again.stdout
