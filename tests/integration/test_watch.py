"""`ats bot watch` against a real MediaWiki: answers within seconds, survives restarts,
costs one request per idle poll, and follows an EventStreams-shaped stream."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from tests.integration.conftest import WikiBot
from tests.integration.sse_server import EventStreamsStandIn
from tests.waiting import wait_until

REACTION = 10.0  # contract §9: a new request answered within 10 s of its save


class Watch:
    """`ats bot watch` as a separate process, its output in files."""

    def __init__(self, wikibot: WikiBot, *args: str) -> None:
        self.wikibot = wikibot
        n = len(list(wikibot.root.glob("watch-*.out")))
        self.out_path = wikibot.root / f"watch-{n}.out"
        self.err_path = wikibot.root / f"watch-{n}.err"
        command = [sys.executable, "-m", "ats.cli", "--config", str(wikibot.config)]
        self.process = subprocess.Popen(
            [*command, "bot", "watch", *args],
            stdout=self.out_path.open("w"),
            stderr=self.err_path.open("w"),
            env=wikibot.env,
        )

    def out(self) -> str:
        return self.out_path.read_text()

    def err(self) -> str:
        return self.err_path.read_text()

    def wait_for(self, pattern: str, timeout: float = 60, where: str = "out") -> None:
        def report() -> str:
            outputs = f"stdout:\n{self.out()}\nstderr:\n{self.err()}"
            return f"{pattern!r} in the watcher's {where}\n{outputs}"

        def written() -> bool:
            if re.search(pattern, self.out() if where == "out" else self.err()):
                return True
            if self.process.poll() is not None:
                raise AssertionError(f"the watcher ended before writing {report()}")
            return False

        wait_until(written, timeout, what=report)

    def stop(self, timeout: float = 10) -> tuple[int, float]:
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=timeout)
        return code, time.monotonic() - started

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def watches() -> Iterator[list[Watch]]:
    started: list[Watch] = []
    yield started
    for watch in started:
        watch.kill()


@pytest.fixture
def stream(wikibot: WikiBot) -> Iterator[EventStreamsStandIn]:
    server = EventStreamsStandIn(wikibot.wiki.api_url, wikibot.wiki.server)
    server.start()
    yield server
    server.stop()


def bot_replies(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(":{{ATS status|")]


def replies_under(text: str, heading: str) -> list[str]:
    start = text.index(f"== {heading} ==")
    following = text.find("\n== ", start + 1)
    return bot_replies(text[start : following if following != -1 else len(text)])


def file_and_time_reply(wikibot: WikiBot, user: str, heading: str) -> float:
    """File a request as `user`; seconds until the bot's reply is on the page."""
    saved = time.monotonic()  # taken before the save starts: the figure is an upper bound
    wikibot.file(user, heading)
    wait_until(
        lambda: replies_under(wikibot.text(), heading),
        30,
        interval=0.2,
        what=lambda: f"a reply under {heading!r}:\n{wikibot.text()}",
    )
    return time.monotonic() - saved


def bot_requests_since(wikibot: WikiBot, offset: int) -> int:
    """API requests the bot made (pywikibot POSTs; the stream stand-in GETs)."""
    with wikibot.wiki.log_path.open("rb") as log:
        log.seek(offset)
        return len(re.findall(rb"\[\d{3}\]: POST /api\.php", log.read()))


@pytest.mark.process
def test_a_new_request_is_answered_within_ten_seconds(
    wikibot: WikiBot, watches: list[Watch]
) -> None:
    watch = Watch(wikibot)  # the defaults a user gets: --poll 2, --full-cycle 600
    watches.append(watch)
    watch.wait_for(r"nothing-to-say|unchanged")  # the cycle at start

    elapsed = file_and_time_reply(wikibot, "Veteran", "Account request: Veteran")
    assert elapsed < REACTION, f"answered after {elapsed:.1f} s"
    [line] = bot_replies(wikibot.text())
    assert line.startswith(":{{ATS status|awaiting-identity}}")
    watch.wait_for(r"saved: 1 requests on the page")

    code, took = watch.stop()
    assert code == 0
    assert took < 5
    assert "watch: stopped" in watch.err()
    assert "Traceback" not in watch.err()


@pytest.mark.process
def test_a_restart_misses_nothing_and_repeats_nothing(
    wikibot: WikiBot, watches: list[Watch]
) -> None:
    first = Watch(wikibot, "--poll", "0.5")
    watches.append(first)
    first.wait_for(r"nothing-to-say|unchanged")
    file_and_time_reply(wikibot, "Veteran", "Account request: Veteran")
    first.wait_for(r"saved:")
    assert first.stop()[0] == 0
    cursor = wikibot.store().cursor(f"watch:recentchanges:{wikibot.page}")
    assert cursor and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\|\d+", cursor)

    wikibot.file("Ярослава", "Account request: while down")  # nobody watching

    second = Watch(wikibot, "--poll", "0.5")
    watches.append(second)
    second.wait_for(r"saved: 2 requests on the page, 1 examined")
    offset = wikibot.wiki.log_size()
    text = wikibot.text()
    assert len(replies_under(text, "Account request: while down")) == 1
    assert len(replies_under(text, "Account request: Veteran")) == 1
    # Several more polls, each seen at the server (a watcher that stalled fails here):
    # still nothing said twice.
    wait_until(lambda: bot_requests_since(wikibot, offset) >= 4, 30, what="four more polls")
    assert len(bot_replies(wikibot.text())) == 2
    assert second.stop()[0] == 0
    assert wikibot.store().cursor(f"watch:recentchanges:{wikibot.page}") >= cursor


@pytest.mark.process
def test_the_cursor_is_written_only_after_the_cycle(wikibot: WikiBot, watches: list[Watch]) -> None:
    """Killed (SIGKILL) after recording but before saving: the next run still answers."""
    first = Watch(wikibot, "--poll", "0.5")
    watches.append(first)
    first.wait_for(r"nothing-to-say|unchanged")
    assert first.stop()[0] == 0
    before = wikibot.store().cursor(f"watch:recentchanges:{wikibot.page}")

    wikibot.env["ATS_KILL_AT"] = "recorded"
    try:
        doomed = Watch(wikibot, "--poll", "0.5")
        watches.append(doomed)
        wikibot.file("Veteran", "Account request: Veteran")
        doomed.process.wait(timeout=60)
    finally:
        wikibot.env.pop("ATS_KILL_AT")
    assert doomed.process.returncode == -signal.SIGKILL
    assert not bot_replies(wikibot.text())
    assert wikibot.store().cursor(f"watch:recentchanges:{wikibot.page}") == before

    again = Watch(wikibot, "--poll", "0.5")
    watches.append(again)
    again.wait_for(r"saved:")
    assert len(bot_replies(wikibot.text())) == 1
    assert again.stop()[0] == 0


POLL_SCRIPT = """
import sys
from ats.config import load_config
from ats import wiring
from bot import wiki
from bot.watch import RecentChangesPoller

config = load_config(sys.argv[1])
site = wiring.site(config, log_in=False)
titles = wiki.watched_titles(site, [config.wiki.request_page, config.wiki.run_page])
poller = RecentChangesPoller(site, titles, None)
poller.poll()
poller.poll()
print("ready", flush=True)
sys.stdin.readline()
changed = [poller.poll() for _ in range(int(sys.argv[2]))]
print("done", sum(changed), flush=True)
"""


def test_an_idle_poll_costs_one_api_request(wikibot: WikiBot) -> None:
    polls = 5
    process = subprocess.Popen(
        [sys.executable, "-c", POLL_SCRIPT, str(wikibot.config), str(polls)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**wikibot.env, "PYWIKIBOT_DIR": str(wikibot.root / "pywikibot-poll")},
    )
    try:
        assert process.stdout.readline().strip() == "ready"
        offset = wikibot.wiki.log_size()
        process.stdin.write("go\n")
        process.stdin.flush()
        assert process.stdout.readline().strip() == "done 0"  # nothing changed
        assert wikibot.wiki.api_requests_since(offset) == polls
    finally:
        process.kill()
        process.wait()


@pytest.mark.process
def test_an_idle_watcher_polls_and_does_nothing_else(
    wikibot: WikiBot, watches: list[Watch]
) -> None:
    watch = Watch(wikibot, "--poll", "0.5")
    watches.append(watch)
    watch.wait_for(r"nothing-to-say|unchanged")
    # Polling has begun (so the cycle at start is over and logged) ...
    start = wikibot.wiki.log_size()
    wait_until(lambda: wikibot.wiki.api_requests_since(start) >= 2, 30, what="two polls")
    # ... then eight requests take at least the time of eight polls: no idle cycles.
    offset, started = wikibot.wiki.log_size(), time.monotonic()
    requests_made = wait_until(
        lambda: (n := wikibot.wiki.api_requests_since(offset)) >= 8 and n, 30, what="eight polls"
    )
    elapsed = time.monotonic() - started
    assert watch.stop()[0] == 0
    assert requests_made <= elapsed / 0.5 + 1  # one per poll
    assert watch.out().count("\n") == 1  # the one cycle at start


@pytest.mark.process
def test_follows_an_eventstream_and_resumes_after_the_last_event(
    wikibot: WikiBot, watches: list[Watch], stream: EventStreamsStandIn
) -> None:
    watch = Watch(wikibot, "--stream", stream.url)
    watches.append(watch)
    watch.wait_for(r"nothing-to-say|unchanged")
    watch.wait_for(r"following http://127\.0\.0\.1", where="err")

    elapsed = file_and_time_reply(wikibot, "Veteran", "Account request: Veteran")
    assert elapsed < REACTION
    watch.wait_for(r"saved:")
    own_save = wikibot.revisions()[0]["revid"]
    # The stream also carries the bot's own save (and other wikis' events): sent, ignored.
    wait_until(lambda: stream.sent(own_save), 30, what="the event of the bot's own save")
    offset = wikibot.wiki.log_size()
    time.sleep(3)  # a window longer than --poll (2 s): a polling watcher would ask in it
    assert bot_requests_since(wikibot, offset) == 0  # following the stream: no polling
    assert watch.stop()[0] == 0
    assert watch.out().count("saved:") == 1
    cursor = wikibot.store().cursor(f"watch:eventstream:{wikibot.page}")
    assert cursor in stream.sent_ids

    wikibot.file("Ярослава", "Account request: while down")
    filed = wikibot.revisions()[0]["revid"]
    # The stand-in publishes it while nobody listens.
    wait_until(lambda: stream.published(filed), 30, what="the event of the new request")
    again = Watch(wikibot, "--stream", stream.url)
    watches.append(again)
    again.wait_for(r"saved:")
    assert stream.last_event_ids[-1] == cursor  # resumed with Last-Event-ID
    text = wikibot.text()
    assert len(replies_under(text, "Account request: while down")) == 1
    assert len(replies_under(text, "Account request: Veteran")) == 1
    assert again.stop()[0] == 0


@pytest.mark.process
def test_a_failing_stream_falls_back_to_polling(
    wikibot: WikiBot, watches: list[Watch], stream: EventStreamsStandIn
) -> None:
    stream.broken = True
    watch = Watch(wikibot, "--stream", stream.url, "--poll", "1")
    watches.append(watch)
    watch.wait_for(r"failed 3 times in a row", where="err", timeout=60)
    watch.wait_for(r"polling recent changes", where="err")
    assert len(stream.last_event_ids) == 3

    elapsed = file_and_time_reply(wikibot, "Veteran", "Account request: Veteran")
    assert elapsed < REACTION
    assert watch.stop()[0] == 0
    assert "Traceback" not in watch.err()


@pytest.mark.process
def test_wiki_errors_are_logged_and_retried(wikibot: WikiBot, watches: list[Watch]) -> None:
    """A wiki that cannot be reached: one line per failure, back-off, no death."""
    wikibot.config.write_text(
        wikibot.config.read_text().replace(wikibot.wiki.api_url, "http://127.0.0.1:9/api.php")
    )
    watch = Watch(wikibot, "--poll", "1")
    watches.append(watch)
    # A refused connection fails at once: bot.wiki cuts pywikibot's own retries short.
    watch.wait_for(r"watch: .* failed: .*retrying in 1 s", where="err", timeout=90)
    watch.wait_for(r"watch: .* failed: .*retrying in 2 s", where="err", timeout=90)
    code, took = watch.stop()
    assert code == 0
    ours = [line for line in watch.err().splitlines() if line.startswith("watch: ")]
    assert ours[-1] == "watch: stopped"
    assert all(" failed: " in line and "retrying in" in line for line in ours[:-1])
