"""`ats backup` while `ats bot watch` answers requests on the real wiki and a writer
plays the bridge (sessions, login attempts, audit entries); `ats restore` of that copy
gives a consistent store at the current schema, and the bot resumes from it without
repeating a reply."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator

import pytest

from membership.store import MIGRATIONS, Store
from tests.builders import request_wikitext
from tests.integration.conftest import WikiBot
from tests.integration.test_watch import Watch, bot_replies, replies_under

USERS = ("Veteran", "Newcomer", "ChapterAdmin")


@pytest.fixture
def bridge_writes(wikibot: WikiBot) -> Iterator[list[int]]:
    """A thread writing as the bridge does, until the test ends: the count it wrote."""
    stop, written = threading.Event(), [0]

    def write() -> None:
        store = Store(wikibot.root / "ats.sqlite")
        while not stop.is_set():
            store.record_login_attempt(f"client-{written[0] % 7}")
            store.audit("Bridge", "bridge-login", oauth_version=2)
            written[0] += 1
            time.sleep(0.005)
        store.close()

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    yield written
    stop.set()
    writer.join()


@pytest.mark.process
def test_a_backup_during_bot_watch_restores_and_the_bot_resumes(
    wikibot: WikiBot, bridge_writes: list[int]
) -> None:
    watch = Watch(wikibot, "--poll", "0.5")
    backups = []
    try:
        watch.wait_for(r"nothing-to-say|unchanged")
        for n, user in enumerate(USERS):
            heading = f"Account request: {user}"
            wikibot.file(user, heading, request_wikitext())
            # A copy while the watcher is at work on this request.
            backup = wikibot.root / f"backup-{n}.sqlite"
            wikibot.run("backup", str(backup))
            backups.append(backup)
            deadline = time.monotonic() + 30
            while not replies_under(wikibot.text(), heading):
                assert time.monotonic() < deadline, wikibot.text()
                time.sleep(0.2)
        refused = wikibot.run("restore", str(backups[1]), check=False)
        assert refused.returncode == 1
        assert refused.stderr.strip().count("\n") == 0
        assert "open in a running process" in refused.stderr
    finally:
        code, _ = watch.stop()
    assert code == 0 and "Traceback" not in watch.err()
    assert bridge_writes[0] > 0
    replies_before = bot_replies(wikibot.text())
    assert len(replies_before) == len(USERS)

    # The middle backup: the bot had answered one or two requests by then.
    wikibot.run("restore", "--force", str(backups[1]))
    path = wikibot.root / "ats.sqlite"
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        applied = [row[0] for row in db.execute("SELECT name FROM _sqlite_migrations")]
    assert applied == list(MIGRATIONS)

    # The restored store is behind the page: the bot must catch up, not answer again.
    assert len(wikibot.store().requests(wikibot.page)) < len(USERS)
    wikibot.cycle()
    wikibot.cycle()
    assert bot_replies(wikibot.text()) == replies_before
    for user in USERS:
        assert len(replies_under(wikibot.text(), f"Account request: {user}")) == 1
    store = wikibot.store()
    assert {r.subject for r in store.requests(wikibot.page)} == set(USERS)
