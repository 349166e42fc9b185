"""Several clerks against one real MediaWiki: one at a time per store, never a reply
twice across stores, and restarts (even `kill -9`) that do not slow the next answer."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import requests

from membership.lease import lease_name
from tests.builders import request_section
from tests.integration.conftest import DevWiki, SeedUser, WikiBot
from tests.integration.test_watch import REACTION, Watch, bot_replies, replies_under
from tests.waiting import wait_until

# Dormant (no recent edits) and the Hebrew persona (latest edit in its sandbox) stay out:
# other tests rely on what their histories show.
USERS = ["Veteran", "Newcomer", "Ярослава", "ChapterAdmin"]


@pytest.fixture
def watchers() -> Iterator[list[Watch]]:
    started: list[Watch] = []
    yield started
    for watch in started:
        watch.kill()


def start_cycle(wikibot: WikiBot, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "ats.cli", "--config", str(wikibot.config), "bot", "run", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=wikibot.env,
    )


def revisions(wiki: DevWiki, page: str) -> list[dict[str, object]]:
    """Every revision of `page`, oldest first, with user, timestamp and comment."""
    response = requests.get(
        wiki.api_url,
        params={
            "action": "query",
            "prop": "revisions",
            "titles": page,
            "rvlimit": "max",
            "rvdir": "newer",
            "rvprop": "ids|user|timestamp|comment",
            "format": "json",
            "formatversion": 2,
        },
        timeout=30,
    )
    return response.json()["query"]["pages"][0].get("revisions", [])


def when(revision: dict[str, object]) -> datetime:
    return datetime.fromisoformat(str(revision["timestamp"]).replace("Z", "+00:00"))


class Requester:
    """A seeded user logged in over the API, filing requests the way the wiki's
    "add topic" does: appended by the server, so no concurrent edit is overwritten."""

    def __init__(self, wiki: DevWiki, user: SeedUser) -> None:
        self.wiki, self.name = wiki, user.name
        self.session = wiki.api_as(user.name)

    def file(self, page: str, heading: str) -> None:
        token = self._get(meta="tokens")["query"]["tokens"]["csrftoken"]
        done = self._post(
            action="edit",
            title=page,
            appendtext="\n\n" + request_section(heading),
            summary=f"/* {heading} */ new section",
            nocreate=1,
            token=token,
        )
        assert done.get("edit", {}).get("result") == "Success", done

    def _get(self, **params: object) -> dict:
        params = {"action": "query", "format": "json", "formatversion": 2, **params}
        return self.session.get(self.wiki.api_url, params=params, timeout=30).json()

    def _post(self, **params: object) -> dict:
        data = {"format": "json", "formatversion": 2, **params}
        return self.session.post(self.wiki.api_url, data=data, timeout=30).json()


def every_reply_once(text: str, headings: list[str]) -> None:
    counts = {h: len(replies_under(text, h)) for h in headings}
    assert all(n == 1 for n in counts.values()), f"{counts}\n{text}"
    assert len(bot_replies(text)) == len(headings)


# -- one store, two clerks at once ------------------------------------------------------


@pytest.mark.process
def test_two_cycles_at_once_on_one_store_take_turns(wikibot: WikiBot) -> None:
    headings = [f"Account request: turn {n}" for n in range(3)]
    for n, heading in enumerate(headings):
        wikibot.file(USERS[n], heading)

    first, second = start_cycle(wikibot, "--once"), start_cycle(wikibot, "--once")
    outcomes = [p.communicate(timeout=120) for p in (first, second)]
    assert [p.returncode for p in (first, second)] == [0, 0], outcomes
    for _, err in outcomes:
        assert "Traceback" not in err and "IntegrityError" not in err, err
    summaries = sorted(out.strip().split(":")[0] for out, _ in outcomes)
    # One answered; the other waited for the lease and found the work done.
    assert summaries in (["saved", "unchanged"], ["nothing-to-say", "saved"]), outcomes
    every_reply_once(wikibot.text(), headings)
    assert len(wikibot.store().requests(wikibot.page)) == 3


@pytest.mark.process
def test_a_second_clerk_names_the_holder_in_one_line(
    wikibot: WikiBot, watchers: list[Watch]
) -> None:
    watch = Watch(wikibot, "--poll", "0.5")
    watchers.append(watch)
    watch.wait_for(r"nothing-to-say|unchanged")

    started = time.monotonic()
    refused = wikibot.cycle("--wait", "2", check=False)
    assert refused.returncode == 1
    assert 2 <= time.monotonic() - started < 30
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1, refused.stderr
    assert re.fullmatch(
        rf"ats: another clerk is working on {re.escape(wikibot.page)}: "
        rf"pid {watch.process.pid} on \S+, since \d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d UTC "
        r"\(its lease runs until .* UTC unless renewed\); gave up after waiting 2 s \(--wait\)",
        lines[0],
    ), lines[0]

    second = Watch(wikibot, "--poll", "0.5", "--wait", "1")
    watchers.append(second)
    assert second.process.wait(timeout=60) == 1
    assert f"pid {watch.process.pid} on " in second.err()
    assert "Traceback" not in second.err()

    assert watch.stop()[0] == 0  # a clean stop releases the lease at once
    assert wikibot.cycle("--wait", "0").returncode == 0


@pytest.mark.process
def test_a_killed_holder_does_not_block_a_restart(wikibot: WikiBot, watchers: list[Watch]) -> None:
    watch = Watch(wikibot, "--poll", "0.5")
    watchers.append(watch)
    watch.wait_for(r"nothing-to-say|unchanged")
    watch.kill()  # SIGKILL: the lease stays in the store, held by a dead pid
    store = wikibot.store()
    row = store.db.execute(
        "SELECT holder, pid FROM clerk_leases WHERE name = ?", [lease_name(wikibot.page)]
    ).fetchone()
    assert row[0] and row[1] == watch.process.pid

    started = time.monotonic()
    wikibot.file("Veteran", "Account request: after the kill")
    done = wikibot.cycle("--wait", "0")  # same host, dead pid: taken over at once
    assert done.stdout.startswith("saved:"), done.stdout
    assert time.monotonic() - started < 20
    assert len(replies_under(wikibot.text(), "Account request: after the kill")) == 1


# -- two stores, one page ---------------------------------------------------------------


@pytest.mark.process
def test_two_watchers_with_separate_stores_answer_each_request_once(
    wikibot: WikiBot, tmp_path: Path, watchers: list[Watch], seed_users: dict[str, SeedUser]
) -> None:
    """Two deployments of the same bot account (a move between hosts): each has its
    own store, both follow the page, and they read and save within milliseconds."""
    other = WikiBot(wikibot.wiki, tmp_path / "other-host", wikibot.page)
    for bot in (wikibot, other):
        watch = Watch(bot, "--poll", "0.5")
        watchers.append(watch)
        watch.wait_for(r"nothing-to-say|unchanged")

    requesters = [Requester(wikibot.wiki, seed_users[name]) for name in USERS]
    headings = [f"Account request: both {n}" for n in range(12)]
    for n, heading in enumerate(headings):
        requesters[n % len(requesters)].file(wikibot.page, heading)
        time.sleep(0.3 if n % 3 else 1.5)  # some alone, some in a burst

    def settled() -> bool:
        """Both stores know every request and hold no reply still to post."""
        for bot in (wikibot, other):
            store = bot.store()
            try:
                known = len(store.requests(wikibot.page)) == len(headings)
                if not known or store.pending_replies(wikibot.page):
                    return False
            finally:
                store.close()
        return True

    wait_until(
        lambda: all(replies_under(wikibot.text(), h) for h in headings),
        90,
        interval=0.5,
        what=lambda: f"a reply under every request:\n{wikibot.text()}",
    )
    wait_until(settled, 60, interval=0.5, what="both watchers to take in the last saves")
    text = wikibot.text()
    every_reply_once(text, headings)

    bot_edits = [r for r in revisions(wikibot.wiki, wikibot.page) if r["user"] == "ClerkBot"]
    edits_then = len(bot_edits)
    time.sleep(3)  # a window of six polls of each watcher: neither edits again
    assert len([r for r in revisions(wikibot.wiki, wikibot.page) if r["user"] == "ClerkBot"]) == (
        edits_then
    ), "the two watchers keep editing the page"
    for watch in watchers:
        assert watch.stop()[0] == 0
        assert "Traceback" not in watch.err()
    # Each store knows every request and holds no reply still waiting to be posted.
    for bot in (wikibot, other):
        store = bot.store()
        assert len(store.requests(wikibot.page)) == len(headings)
        assert store.pending_replies(wikibot.page) == []


# -- restarts cost nothing --------------------------------------------------------------


@pytest.mark.process
def test_five_kills_then_a_new_request_is_answered_within_ten_seconds(
    wikibot: WikiBot, watchers: list[Watch]
) -> None:
    # The defaults a user gets: edit_interval 10 s, --poll 2.
    wikibot.config.write_text(wikibot.config.read_text().replace("edit_interval = 0\n", ""))
    for _ in range(5):
        doomed = Watch(wikibot)
        watchers.append(doomed)
        doomed.wait_for(r"nothing-to-say|unchanged")
        doomed.kill()
    ctrl = wikibot.root / "pywikibot" / "throttle.ctrl"
    listed = len(ctrl.read_text().splitlines())
    assert listed >= 5, ctrl.read_text()  # pywikibot still counts the dead processes

    watch = Watch(wikibot)
    watchers.append(watch)
    watch.wait_for(r"nothing-to-say|unchanged")
    heading = "Account request: after five kills"
    wikibot.file("Veteran", heading)
    watch.wait_for(r"saved:", timeout=60)
    history = revisions(wikibot.wiki, wikibot.page)
    filed = next(r for r in history if heading in str(r["comment"]))
    reply = history[-1]
    assert reply["user"] == "ClerkBot"
    elapsed = (when(reply) - when(filed)).total_seconds()
    assert elapsed < REACTION, f"answered {elapsed:.0f} s after the save"

    # The pace between saves is the bot's own and survives a kill: the next save
    # waits out the rest of edit_interval counted from the last one, no more.
    watch.kill()
    again = Watch(wikibot)
    watchers.append(again)
    again.wait_for(r"nothing-to-say|unchanged")
    wikibot.file("Newcomer", "Account request: right after")
    again.wait_for(r"saved:", timeout=60)
    history = revisions(wikibot.wiki, wikibot.page)
    gap = (when(history[-1]) - when(reply)).total_seconds()
    assert 9 <= gap < 9 + REACTION, f"{gap:.0f} s between two saves"
    assert again.stop()[0] == 0


# -- a save MediaWiki merged ----------------------------------------------------------


def test_an_edit_merged_into_the_bots_save_is_still_read(wikibot: WikiBot) -> None:
    """Someone files a request while the bot works on another one higher up: MediaWiki
    merges the two edits (they do not overlap) instead of reporting a conflict. The
    bot's save then holds a request it never read, and the next cycle answers it."""
    import os

    from ats import wiring
    from ats.config import load_config

    wikibot.file("Veteran", "Account request: first")
    wikibot.wiki.edit_as(
        "Newcomer", wikibot.page, wikibot.text() + "\n== Chat ==\nA question. ~~~~\n", "chat"
    )

    def interfere(step: str) -> None:
        if step == "recorded" and "while the bot worked" not in wikibot.text():
            wikibot.file("Ярослава", "Account request: while the bot worked")

    os.environ["ATS_BOT_PASSWORD"] = wikibot.wiki.bot_password
    clerk = wiring.clerk(load_config(wikibot.config), checkpoint=interfere)
    report = clerk.run_once()
    assert report.status == "saved" and report.conflicts == 0
    store = wikibot.store()
    [saved] = [e for e in store.audit_log() if e.action == "saved"]
    assert saved.evidence["merged"] is True
    # The store stays at the revision it read: the merged one holds unread work.
    assert store.page_revision(wikibot.page) < report.revid
    text = wikibot.text()
    assert len(replies_under(text, "Account request: first")) == 1
    assert replies_under(text, "Account request: while the bot worked") == []

    assert wikibot.cycle().stdout.startswith("saved:")
    text = wikibot.text()
    assert len(replies_under(text, "Account request: while the bot worked")) == 1
    assert len(replies_under(text, "Account request: first")) == 1
    assert wikibot.cycle().stdout.startswith("unchanged:")
