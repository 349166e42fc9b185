"""Faults a deployment meets, each told in one line: the wiki gone, silent, failing,
read-only or lagged; the store damaged, a folder, unreadable, locked, on a full disk or
written by a newer version. The real CLI against the real local wiki; `--debug` adds
the traceback."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from bot.wiki import CONNECT_TIMEOUT, READ_TIMEOUT
from devtools.devwiki import DevWiki
from tests.integration.conftest import WikiBot
from tests.integration.test_watch import Watch, bot_replies, watches  # noqa: F401 - fixture
from tests.waiting import wait_until


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    """The single `ats: ...` line a failed command printed, checked to be all it printed."""
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("ats: ")
    return lines[0]


def point_at(wikibot: WikiBot, api: str) -> None:
    wikibot.config.write_text(wikibot.config.read_text().replace(wikibot.wiki.api_url, api))


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nobody listens once it is closed


# -- the wiki ------------------------------------------------------------------------


def test_a_wiki_that_refuses_connections_fails_at_once(wikibot: WikiBot) -> None:
    api = f"http://127.0.0.1:{closed_port()}/api.php"
    point_at(wikibot, api)
    started = time.monotonic()
    result = wikibot.cycle(check=False)
    took = time.monotonic() - started
    assert one_line(result) == f"ats: cannot reach the wiki at {api}: connection refused"
    # pywikibot alone retried for 15 s: under 14 s, even on a loaded machine, is no retry.
    assert took < 14, f"took {took:.1f} s"
    debug = wikibot.run("--debug", "bot", "run", "--once", check=False)
    assert debug.returncode == 1
    assert "Traceback" in debug.stderr and "requests.exceptions.ConnectionError" in debug.stderr
    assert debug.stderr.rstrip().endswith(one_line(result))


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A port that accepts connections and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)  # the kernel completes the handshakes; nothing ever reads or writes
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/api.php"
    sock.close()


def test_a_silent_wiki_fails_within_the_stated_time(wikibot: WikiBot, silent_server: str) -> None:
    point_at(wikibot, silent_server)
    started = time.monotonic()
    result = wikibot.cycle(check=False)
    took = time.monotonic() - started
    line = one_line(result)
    assert line == f"ats: the wiki at {silent_server} did not answer within {READ_TIMEOUT:.0f} s"
    assert READ_TIMEOUT <= took < READ_TIMEOUT + CONNECT_TIMEOUT + 5, f"took {took:.1f} s"


class _Failing(BaseHTTPRequestHandler):
    def _fail(self) -> None:
        self.server.hits += 1  # type: ignore[attr-defined]
        self.send_response(503, "Service Unavailable")
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = _fail

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def failing_server() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Failing)
    server.hits = 0  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_server_errors_are_retried_then_told(
    wikibot: WikiBot, failing_server: ThreadingHTTPServer
) -> None:
    api = f"http://127.0.0.1:{failing_server.server_address[1]}/api.php"
    point_at(wikibot, api)
    started = time.monotonic()
    line = one_line(wikibot.cycle(check=False))
    took = time.monotonic() - started
    assert line.startswith(f"ats: the wiki at {api} failed 3 times in a row")
    assert "503 Server Error: Service Unavailable" in line
    assert failing_server.hits == 3  # type: ignore[attr-defined]
    assert took < 15, f"took {took:.1f} s"


@pytest.fixture
def restarts_wiki(devwiki: DevWiki) -> Iterator[DevWiki]:
    """The session's wiki, started again after the test whatever happened."""
    yield devwiki
    devwiki.start()


@pytest.mark.process
def test_the_wiki_stopped_mid_cycle(wikibot: WikiBot, restarts_wiki: DevWiki) -> None:
    wiki = restarts_wiki
    wikibot.file("Veteran", "Account request: Veteran")
    offset = wiki.log_size()
    process = subprocess.Popen(
        [sys.executable, "-m", "ats.cli", "--config", str(wikibot.config), "bot", "run", "--once"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=wikibot.env,
    )
    try:
        # Freeze the bot as soon as it has asked the wiki something, stop the wiki, go on.
        wait_until(lambda: wiki.api_requests_since(offset), 60, interval=0.01, what="a request")
        process.send_signal(signal.SIGSTOP)
        asked = wiki.api_requests_since(offset)
        wiki.stop()
        process.send_signal(signal.SIGCONT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    line = one_line(subprocess.CompletedProcess(process.args, process.returncode, out, err))
    assert "cannot reach the wiki" in line
    assert asked >= 1
    wiki.start()
    assert bot_replies(wikibot.text()) == []
    wikibot.cycle()  # back: the next cycle answers
    assert len(bot_replies(wikibot.text())) == 1


def wait_for_read_only(wiki: DevWiki, wanted: bool) -> None:
    """PHP's opcache may serve the old LocalSettings.php for a few seconds."""

    def read_only() -> bool:
        general = requests.get(
            wiki.api_url,
            params={"action": "query", "meta": "siteinfo", "format": "json", "formatversion": 2},
            timeout=30,
        ).json()["query"]["general"]
        return bool(general.get("readonly")) == wanted

    wait_until(read_only, 30, interval=0.5, what=f"the wiki's read-only mode to be {wanted}")


def test_a_read_only_wiki_is_named_with_its_reason(wikibot: WikiBot, devwiki: DevWiki) -> None:
    wikibot.file("Veteran", "Account request: Veteran")
    settings = devwiki.config_path
    original = settings.read_text()
    reason = "Database maintenance until 16:00 UTC"
    settings.write_text(original + f"\n$wgReadOnly = '{reason}';\n")
    try:
        wait_for_read_only(devwiki, True)
        started = time.monotonic()
        line = one_line(wikibot.cycle(check=False))
        took = time.monotonic() - started
    finally:
        settings.write_text(original)
        wait_for_read_only(devwiki, False)
    assert line == f"ats: the wiki is read-only, so nothing can be saved: {reason}"
    assert took < 10, f"took {took:.1f} s"  # not pywikibot's retries until a timeout
    wikibot.cycle()  # writable again: the queued reply is posted once
    assert len(bot_replies(wikibot.text())) == 1


def test_maxlag_exhausted_is_told(wikibot: WikiBot) -> None:
    wikibot.file("Veteran", "Account request: Veteran")
    # A single-server wiki reports a lag of -1 s: below maxlag = -2 it is lagged, for real.
    wikibot.config.write_text(
        wikibot.config.read_text().replace("edit_interval = 0", "edit_interval = 0\nmaxlag = -2")
    )
    line = one_line(wikibot.cycle(check=False))
    assert "replication lag stayed above maxlag" in line and "try again later" in line
    assert bot_replies(wikibot.text()) == []


def test_a_wrong_bot_password_is_one_line(wikibot: WikiBot) -> None:
    wikibot.file("Veteran", "Account request: Veteran")
    line = one_line(wikibot.cycle(env={"ATS_BOT_PASSWORD": "0" * 32}, check=False))
    assert line.startswith("ats: login as ClerkBot@clerk failed")


# -- the store -----------------------------------------------------------------------


def store_path(wikibot: WikiBot) -> Path:
    return wikibot.root / "ats.sqlite"


def test_a_corrupt_store(wikibot: WikiBot) -> None:
    store_path(wikibot).write_bytes(os.urandom(8192))
    line = one_line(wikibot.cycle(check=False))
    assert line == (
        f"ats: the store {store_path(wikibot)} is not a usable SQLite database (damaged, or "
        "another kind of file); restore it from a backup or point [store] path elsewhere"
    )
    debug = wikibot.run("--debug", "bot", "run", "--once", check=False)
    assert "Traceback" in debug.stderr and "sqlite3.DatabaseError" in debug.stderr
    # Every command that opens the store says the same, the bridge before it serves.
    wikibot.configure(extra='[provisioning]\nbackend = "dry-run"\n[bridge]\nconsumer_key = "k"\n')
    bridge_env = {
        "ATS_SESSION_KEY": "s" * 32,
        "ATS_OAUTH_SECRET": "secret",
        "OAUTHLIB_INSECURE_TRANSPORT": "1",
    }
    for command in (
        ["report"],
        ["purge", "--dry-run"],
        ["provision", "run", "--once"],
        ["provision", "account", "Veteran"],
        ["payments", "import", os.devnull, "--by", "ChapterAdmin"],
        ["bridge", "serve", "--port", str(closed_port())],
    ):
        assert one_line(wikibot.run(*command, env=bridge_env, check=False)) == line, command


def test_a_bridge_whose_port_is_taken_says_so_in_one_line(wikibot: WikiBot) -> None:
    import socket

    wikibot.configure(extra='[provisioning]\nbackend = "dry-run"\n[bridge]\nconsumer_key = "k"\n')
    bridge_env = {
        "ATS_SESSION_KEY": "s" * 32,
        "ATS_OAUTH_SECRET": "secret",
        "OAUTHLIB_INSECURE_TRANSPORT": "1",
    }
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = wikibot.run("bridge", "serve", "--port", str(port), env=bridge_env, check=False)
    assert (done.returncode, done.stdout) == (2, ""), done.stderr
    assert done.stderr == (
        f"ats: cannot listen on 127.0.0.1:{port}: Address already in use (is another bridge "
        "running there? choose another --port or [bridge] url)\n"
    )


def test_a_store_that_is_a_folder(wikibot: WikiBot) -> None:
    store_path(wikibot).mkdir()
    line = one_line(wikibot.cycle(check=False))
    store = store_path(wikibot)
    assert line == f"ats: the store {store} is a folder, not a database file; fix [store] path"


def test_a_store_whose_folder_cannot_exist(wikibot: WikiBot) -> None:
    (wikibot.root / "var").write_text("a file where the folder should be\n")
    wikibot.config.write_text(
        wikibot.config.read_text()
        .replace('path = "ats.sqlite"', 'path = "var/ats.sqlite"')
        .replace("edit_interval = 0", f'edit_interval = 0\nworkdir = "{wikibot.root / "pwb"}"')
    )
    line = one_line(wikibot.cycle(check=False))
    assert (
        line == f"ats: the store's folder {wikibot.root / 'var'} is not a folder; fix [store] path"
    )


def test_a_store_locked_by_another_process(wikibot: WikiBot) -> None:
    wikibot.cycle()  # the store exists
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time\n"
            "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
            "c.execute('BEGIN IMMEDIATE')\n"
            "print('locked', flush=True)\n"
            "time.sleep(120)\n",
            str(store_path(wikibot)),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        started = time.monotonic()
        line = one_line(wikibot.cycle(check=False))
        took = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait()
    assert line == (
        f"ats: the store {store_path(wikibot)} is locked by another process for more than "
        "10 s; try again when that process has finished"
    )
    assert 10 <= took < 20


def test_a_store_from_a_newer_version_is_refused_untouched(wikibot: WikiBot) -> None:
    wikibot.cycle()
    with sqlite3.connect(store_path(wikibot)) as conn:
        conn.execute(
            "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
            "VALUES ('ats', '0042_from_the_future', '2030-01-01 00:00:00')"
        )
    conn.close()
    wikibot.file("Veteran", "Account request: Veteran")
    before = store_path(wikibot).read_bytes()
    line = one_line(wikibot.cycle(check=False))
    assert line == (
        f"ats: the store {store_path(wikibot)} was written by a newer version of ats: it has "
        "migration 0042_from_the_future, which this version does not know; upgrade ats "
        "(nothing was changed)"
    )
    assert store_path(wikibot).read_bytes() == before
    assert bot_replies(wikibot.text()) == []
    report = wikibot.run("report", check=False)  # every command that opens the store
    assert one_line(report) == line


@pytest.mark.process
def test_an_unreadable_store(wikibot: WikiBot) -> None:
    """Root reads any file whatever its mode: run the CLI as root without the
    capabilities that override file permissions, so a store of mode 000 is unreadable
    to it (the checkout itself stays readable, wherever it lives)."""
    setpriv = shutil.which("setpriv")
    assert setpriv, "setpriv (util-linux) is needed to drop root's file-permission override"
    wikibot.cycle()
    store = store_path(wikibot)
    store.chmod(0o000)
    try:
        result = subprocess.run(
            [
                setpriv,
                "--inh-caps=-dac_override,-dac_read_search",
                "--bounding-set=-dac_override,-dac_read_search",
                sys.executable,
                "-m",
                "ats.cli",
                "--config",
                str(wikibot.config),
                "report",
            ],
            capture_output=True,
            text=True,
            env=wikibot.env,
            timeout=60,
        )
    finally:
        store.chmod(0o600)
    line = one_line(result)
    assert line.startswith(f"ats: the store {store} cannot be opened: permission denied"), line


@pytest.mark.process
def test_a_full_disk(wikibot: WikiBot) -> None:
    """A 1 MiB tmpfs, filled up, in a mount namespace of its own (gone when the run ends)."""
    unshare = shutil.which("unshare")
    assert unshare, "unshare (util-linux) is needed to mount a private tmpfs"
    wikibot.cycle()
    full = wikibot.root / "full"
    full.mkdir()
    config = wikibot.root / "full.toml"
    config.write_text(
        wikibot.config.read_text()
        .replace('path = "ats.sqlite"', f'path = "{full / "ats.sqlite"}"')
        .replace("edit_interval = 0", f'edit_interval = 0\nworkdir = "{wikibot.root / "pwb"}"')
    )
    script = (
        'mount -t tmpfs -o size=1m tmpfs "$1" && cp "$2" "$1/" && '
        '{ dd if=/dev/zero of="$1/filler" bs=4k 2>/dev/null; true; } && '
        'exec "$3" -m ats.cli --config "$4" bot run --once'
    )
    result = subprocess.run(
        [
            unshare,
            "--mount",
            "sh",
            "-c",
            script,
            "sh",
            str(full),
            str(store_path(wikibot)),
            sys.executable,
            str(config),
        ],
        capture_output=True,
        text=True,
        env=wikibot.env,
        timeout=120,
    )
    line = one_line(result)
    assert line == (
        f"ats: the disk holding the store {full / 'ats.sqlite'} is full; "
        "free some space and try again"
    )


# -- ats bot watch through an outage -------------------------------------------------


@pytest.mark.process
def test_watch_rides_out_an_outage(
    wikibot: WikiBot,
    restarts_wiki: DevWiki,
    watches: list[Watch],  # noqa: F811 - the fixture
) -> None:
    wiki = restarts_wiki
    watch = Watch(wikibot, "--poll", "0.5")
    watches.append(watch)
    watch.wait_for(r"requests on the page|unchanged", timeout=60)
    wiki.stop()
    watch.wait_for(r"watch: .* failed: .*retrying in 2 s", where="err", timeout=60)
    wiki.start()
    wikibot.file("Veteran", "Account request: Veteran")
    wait_until(lambda: bot_replies(wikibot.text()), 90, interval=0.5, what=watch.err)
    assert len(bot_replies(wikibot.text())) == 1, watch.err()
    code, _ = watch.stop()
    assert code == 0
    err = watch.err()
    assert "Traceback" not in err
    lines = err.splitlines()
    assert lines[-1] == "watch: stopped"
    failures = [line for line in lines[:-1] if " failed: " in line]
    assert failures and all(
        line.startswith("watch: ") and "cannot reach the wiki" in line and "retrying in" in line
        for line in failures
    ), err
    assert len(lines) == len(failures) + 1, err  # nothing else: one line per failure


# -- hand-typed wiki usernames -------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("../../etc/evil", "it contains '/'"),
        ("Foo#bar", "it contains '#'"),
        ("127.0.0.1", "it is an IP address"),
        ("", "it is empty"),
    ],
)
def test_provision_account_refuses_a_name_mediawiki_cannot_have(
    wikibot: WikiBot, name: str, why: str
) -> None:
    wikibot.configure(extra='[provisioning]\nbackend = "dry-run"\n')
    result = wikibot.run("provision", "account", name, check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    [line] = result.stderr.splitlines()
    assert line == f"ats: {name!r} is not a valid wiki username: {why}" + line.split(why, 1)[1]
    assert not (wikibot.root / "provisioning-dry-run.jsonl").exists()
    assert wikibot.store().accounts() == []
    fine = wikibot.run("provision", "account", "Ярослава", "--name", "yaroslava")
    assert fine.stdout.startswith("yaroslava: ")
    assert [a.owner for a in wikibot.store().accounts()] == ["Ярослава"]


@pytest.mark.process
def test_repeating_bot_run_carries_on_through_an_outage(
    wikibot: WikiBot, restarts_wiki: DevWiki
) -> None:
    out, err = wikibot.root / "run.out", wikibot.root / "run.err"
    command = [sys.executable, "-m", "ats.cli", "--config", str(wikibot.config)]
    process = subprocess.Popen(
        [*command, "bot", "run", "--interval", "1"],
        stdout=out.open("w"),
        stderr=err.open("w"),
        env=wikibot.env,
    )

    def wait_for(path: Path, text: str, count: int = 1) -> None:
        def written() -> bool:
            assert process.poll() is None, err.read_text()
            return path.read_text().count(text) >= count

        def expected() -> str:
            outputs = f"stdout:\n{out.read_text()}\nstderr:\n{err.read_text()}"
            return f"{count} x {text!r} in {path.name}\n{outputs}"

        wait_until(written, 60, what=expected)

    try:
        wait_for(out, "requests on the page")
        restarts_wiki.stop()
        wait_for(err, "; next cycle in 1 s", count=2)
        restarts_wiki.start()
        wikibot.file("Veteran", "Account request: Veteran")
        wait_for(out, "saved: ")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    lines = err.read_text().splitlines()
    assert "Traceback" not in err.read_text()
    assert lines and all(
        line.startswith("ats: ") and "cannot reach the wiki" in line for line in lines
    ), lines
    assert len(bot_replies(wikibot.text())) == 1
