"""From the admin's approving edit to a shell, and from a key removed to a refusal.

Starts its own local wiki. Each round has its own request page, store and directory:
a slapd provider with syncprov, `ats bridge serve` with the stand-in OAuth provider,
`ats devhost` (a syncrepl replica, SSSD, sshd in a private namespace), and, running as
processes the whole round, `ats bot watch` and `ats provision run` with the defaults a
chapter gets (`--poll 2` and `--poll 5`). Veteran files an account request; the bot
answers; they sign in on the bridge, accept the terms and add a key made by
`ssh-keygen`; an admin attests them and records the fee. Then it times:

- approve → login: from just before the admin's `{{ATS approve}}` edit to the first
  `ssh` with the key that opens a shell (the watcher sees the edit, the cycle approves,
  the worker makes the account, the replica follows, SSSD serves it);
- key removed → refused: from just before the key's removal on the bridge to the first
  `ssh` with it that is refused (the worker's keys job, the replica, SSSD's cache).

`ssh` is tried every 0.25 s. Run as root from the project root:
``.venv/bin/python bench/bench_journey.py [--rounds N]`` (about a minute a round).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devtools.devwiki import DevWiki  # noqa: E402
from tests.integration.conftest import WikiBot  # noqa: E402
from tests.integration.journey import Journey  # noqa: E402
from tests.waiting import wait_until  # noqa: E402

HEADING = "Account request: Veteran"
LIMIT = 180  # seconds: give up on a round that takes longer (the target is 60)


def one_round(wiki: DevWiki, root: Path, number: int) -> tuple[float, float]:
    page = f"Toolserver/Requests/Journey bench {number}"
    wiki.edit_as(wiki.admin_user, page, "Requests for accounts.\n", "new request page")
    wikibot = WikiBot(wiki, root / f"round-{number}", page)
    journey = Journey(wikibot).start()
    try:
        ssh = journey.ssh
        ssh.key("veteran")
        journey.spawn("bot", "watch")
        journey.spawn("provision", "run")
        wikibot.file("Veteran", HEADING)
        wait_until(lambda: _state(journey) == "awaiting-identity", LIMIT, what="the first reply")
        requester = journey.requester_gates("Veteran", ssh.public("veteran"))
        journey.start_host()
        # The bot's reply to the gates, so the admin's edit meets no edit of its own.
        wait_until(lambda: "awaiting-approval}}" in wikibot.text(), LIMIT, interval=0.2)

        approved, approved_at = time.monotonic(), datetime.now(UTC)
        wikibot.append("ChapterAdmin", HEADING, ":{{ATS approve}} ~~~~")
        wait_until(lambda: ssh.logs_in("veteran"), LIMIT, interval=0.25, what="a login")
        to_login = time.monotonic() - approved
        _breakdown(journey, approved_at, to_login)

        [key_id] = requester.key_ids()
        removed = time.monotonic()
        requester.remove_key(key_id)
        wait_until(lambda: not ssh.logs_in("veteran"), LIMIT, interval=0.25, what="a refusal")
        to_refusal = time.monotonic() - removed
        return to_login, to_refusal
    finally:
        journey.stop()


def _breakdown(journey: Journey, approved_at: datetime, to_login: float) -> None:
    """Where the wait went, from the store: the cycle that approved, the account's job."""
    with contextlib.closing(journey.wikibot.store()) as store:
        [record] = [r for r in store.requests(journey.wikibot.page) if r.heading == HEADING]
        [job] = store.jobs(request_id=record.id)
        states = [e for e in store.audit_log(record.id) if "approv" in e.action]
    marks = [("approved by the bot", states[0].at if states else None)]
    marks += [("job queued", job.created_at), ("account in the directory", job.updated_at)]
    said = [
        f"{label} +{(datetime.fromisoformat(at) - approved_at).total_seconds():.1f} s"
        for label, at in marks
        if at
    ]
    print("  " + ", ".join([*said, f"first login +{to_login:.1f} s"]), flush=True)


def _state(journey: Journey) -> str:
    try:
        return journey.state(HEADING)
    except ValueError:  # not recorded yet
        return ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="keep the wiki in this folder")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench_journey: run it as root (the login host is a mount namespace)")
    root = args.keep or Path(tempfile.mkdtemp(prefix="bench-journey-"))
    wiki = DevWiki.create(root / "wiki")
    wiki.start()
    figures: list[tuple[float, float]] = []
    try:
        wiki.seed()
        for number in range(1, args.rounds + 1):
            figures.append(one_round(wiki, root, number))
            login, refusal = figures[-1]
            print(
                f"round {number}: approve → login {login:.1f} s, removed → refused {refusal:.1f} s"
            )
    finally:
        wiki.stop()
    load = os.getloadavg()
    print(f"\n{len(figures)} rounds; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print("| interval | min s | median s | max s |\n|---|---:|---:|---:|")
    for label, values in (
        ("approving edit → first ssh login", [f[0] for f in figures]),
        ("key removed on the bridge → first refused ssh", [f[1] for f in figures]),
    ):
        row = [min(values), statistics.median(values), max(values)]
        print(f"| {label} | {' | '.join(f'{v:.1f}' for v in row)} |")


if __name__ == "__main__":
    main()
