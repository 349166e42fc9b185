"""`ats demo` as a visitor uses it, over HTTP: anyone can log in as anyone at any time (the
stand-in wiki asks at every login and offers a "log in as …" link per seeded person), and
its two admins can grant a waiver together — one proposes, the other confirms. Run as
`ats demo` itself, in a child process, until it says it is up."""

from __future__ import annotations

import contextlib
import html
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest
import requests

from membership.store import Store

READY = "stay up until you press Ctrl-C"


def _lines_until(out: IO[str], marker: str, seen: list[str], deadline: float) -> None:
    while time.monotonic() < deadline:
        line = out.readline()
        if not line:
            raise AssertionError("the demo stopped:\n" + "".join(seen))
        seen.append(line)
        if marker in line:
            return
    raise AssertionError("the demo did not come up:\n" + "".join(seen))


@pytest.fixture
def demo(demo_folder: Path) -> Iterator[tuple[str, str, Path]]:
    """`ats demo` running (wiki, bridge, bot); its bridge URL, what it printed, its folder."""
    tmp_path = demo_folder
    process = subprocess.Popen(
        [sys.executable, "-m", "ats.cli", "demo", "--dir", str(tmp_path), "--no-shell"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        seen: list[str] = []
        _lines_until(process.stdout, READY, seen, time.monotonic() + 600)
        printed = "".join(seen)
        found = re.search(r"bridge:\s+(http://127\.0\.0\.1:\d+)/", printed)
        assert found, printed
        yield found.group(1), printed, tmp_path
    finally:
        process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(60)
        if process.poll() is None:
            process.kill()
            process.wait()


def csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page[:500]
    return found.group(1)


def log_in_as(session: requests.Session, bridge: str, name: str) -> requests.Response:
    """Open the bridge's login, and on the stand-in wiki's page follow "Log in as NAME"."""
    asked = session.get(f"{bridge}/login", timeout=60)
    assert asked.status_code == 200, asked.text[:500]
    assert "Allow access?" in asked.text  # asked every time: never straight back in
    links = dict(
        (html.unescape(who), html.unescape(href))
        for href, who in re.findall(r'<a href="([^"]+)">Log in as ([^<]+)</a>', asked.text)
    )
    assert name in links, sorted(links)
    provider = re.match(r"https?://[^/]+", asked.url)
    assert provider
    landed = session.get(provider.group(0) + links[name], timeout=60)
    assert landed.status_code == 200, landed.text[:500]
    assert landed.url.startswith(bridge)
    return landed


def log_out(session: requests.Session, bridge: str, page: str) -> None:
    session.post(f"{bridge}/logout", data={"csrf_token": csrf(page)}, timeout=60)


@pytest.mark.process
def test_anyone_logs_in_as_anyone_and_two_admins_grant_a_waiver(
    demo: tuple[str, str, Path],
) -> None:
    bridge, printed, root = demo
    assert "shell:        skipped: --no-shell" in printed  # no login host: asked for none
    for name in ("Veteran", "ChapterAdmin", "SecondAdmin"):
        assert re.search(rf"^\s+{name}\s+\S", printed, re.MULTILINE), printed  # who is who

    browser = requests.Session()
    me = log_in_as(browser, bridge, "Veteran")
    assert "Veteran" in me.text
    asked = browser.post(
        f"{bridge}/waiver",
        data={"csrf_token": csrf(me.text), "reason": "Student, no income this year."},
        timeout=60,
    )
    assert asked.status_code == 200
    log_out(browser, bridge, asked.text)

    desk = log_in_as(browser, bridge, "ChapterAdmin")
    member = browser.get(f"{bridge}/admin/member/Veteran", timeout=60)
    waiver_id = re.search(r'action="/admin/waiver/(\d+)"', member.text)
    assert waiver_id, member.text[:1000]
    proposed = browser.post(
        f"{bridge}/admin/waiver/{waiver_id.group(1)}",
        data={"csrf_token": csrf(member.text), "action": "grant"},
        timeout=60,
    )
    assert proposed.status_code == 200
    assert desk.url.startswith(bridge)
    log_out(browser, bridge, proposed.text)

    # The same browser, a fresh login: the stand-in asks again, and the second admin
    # confirms what the first one granted.
    log_in_as(browser, bridge, "SecondAdmin")
    member = browser.get(f"{bridge}/admin/member/Veteran", timeout=60)
    assert "ChapterAdmin" in member.text
    confirmed = browser.post(
        f"{bridge}/admin/waiver/{waiver_id.group(1)}",
        data={"csrf_token": csrf(member.text), "action": "grant"},
        timeout=60,
    )
    assert confirmed.status_code == 200
    # The second admin's confirm is taken (the fund is empty, so it waits in the queue),
    # not answered as a first grant that still needs someone else.
    assert "Grant recorded; a second admin must confirm it." not in confirmed.text
    assert "the waiver is granted and waits in the queue" in confirmed.text
    with contextlib.closing(Store(root / "ats.sqlite")) as store:
        waiver = store.waiver(int(waiver_id.group(1)))
        assert waiver is not None and waiver.decided_by == "ChapterAdmin"
        # The demo's fund is empty: the confirmed grant waits in the fund's queue (as
        # the policy's when_fund_is_short = "queue" says), confirmed by the second admin.
        [queued] = [q for q in store.queued_waivers() if q.waiver_id == waiver.id]
        assert (queued.operation, queued.queued_by) == ("confirm", "SecondAdmin")
