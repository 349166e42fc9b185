"""How fast `ats bot watch` answers right after it was killed, again and again.

Starts its own local wiki and, with the defaults a user gets (`edit_interval` 10 s,
`--poll 2`), runs R rounds of: start `ats bot watch`, wait for its first cycle, kill it
with SIGKILL — five times — then start it once more, file one request (a real edit by
a seeded user) and measure the time from that save to the bot's reply, both from the
two revisions' timestamps (the wiki's clock, whole seconds) and from just before the
save to the reply being visible through the API (this machine's clock). Each round
starts at least `edit_interval` after the previous reply, so the figure is the
reaction alone, not the pace between saves. It also reports how many processes
pywikibot's throttle.ctrl lists at the end (the dead ones stay there ten minutes).

Run from the project root:
``.venv/bin/python bench/bench_restarts.py [--rounds R] [--kills N]``
(about two minutes with the defaults; it starts and stops its own wiki).
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devtools.devwiki import DevWiki  # noqa: E402
from devtools.sample import write_config  # noqa: E402

PAGE = "Toolserver/Requests"
USERS = ["Veteran", "Ярослава", "ChapterAdmin"]
EDIT_INTERVAL = 10.0  # the default of [bot] edit_interval
BODY = "{{ATS request\n | type = account\n | purpose = Benchmark.\n}}\n~~~~"


def start_watch(config: Path, root: Path, n: int) -> tuple[subprocess.Popen[bytes], Path]:
    out = root / f"watch-{n}.out"
    process = subprocess.Popen(
        [sys.executable, "-m", "ats.cli", "--config", str(config), "bot", "watch"],
        stdout=out.open("w"),
        stderr=(root / f"watch-{n}.err").open("w"),
        env={**os.environ, "ATS_BOT_PASSWORD": WIKI_PASSWORD[0]},
    )
    deadline = time.monotonic() + 60
    while "nothing-to-say" not in out.read_text() and "unchanged" not in out.read_text():
        if time.monotonic() > deadline or process.poll() is not None:
            raise SystemExit(f"the watcher did not start: see {root}/watch-{n}.err")
        time.sleep(0.1)
    return process, out


WIKI_PASSWORD = [""]


def revisions(wiki: DevWiki) -> list[dict[str, str]]:
    response = requests.get(
        wiki.api_url,
        params={
            "action": "query",
            "prop": "revisions",
            "titles": PAGE,
            "rvlimit": 5,
            "rvprop": "ids|user|timestamp|comment",
            "format": "json",
            "formatversion": 2,
        },
        timeout=30,
    )
    return response.json()["query"]["pages"][0]["revisions"]  # newest first


def stamp(revision: dict[str, str]) -> datetime:
    return datetime.fromisoformat(revision["timestamp"].replace("Z", "+00:00"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds of kills and a request")
    parser.add_argument("--kills", type=int, default=5, help="SIGKILLs before each request")
    parser.add_argument("--keep", type=Path, help="keep the wiki in this folder")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="bench-restarts-"))
    wiki = DevWiki.create(root / "wiki")
    wiki.start()
    WIKI_PASSWORD[0] = wiki.bot_password
    by_wiki, by_clock, kills_took = [], [], []
    n = 0
    try:
        wiki.seed()
        wiki.edit_as(wiki.admin_user, PAGE, "Requests for accounts.\n", "request page")
        config = write_config(wiki, root / "bot", request_page=PAGE)
        config.write_text(config.read_text().replace("edit_interval = 0\n", ""))
        last_reply = 0.0
        for round_number in range(args.rounds):
            started = time.monotonic()
            for _ in range(args.kills):
                process, _ = start_watch(config, root, n)
                n += 1
                process.send_signal(signal.SIGKILL)
                process.wait()
            kills_took.append(time.monotonic() - started)
            process, out = start_watch(config, root, n)
            n += 1
            time.sleep(max(0.0, last_reply + EDIT_INTERVAL + 1 - time.monotonic()))
            heading = f"Account request: after kills {round_number}"
            text = wiki.page_text(PAGE).rstrip("\n")
            before = time.monotonic()
            wiki.edit_as(
                USERS[round_number % len(USERS)],
                PAGE,
                f"{text}\n\n== {heading} ==\n{BODY}\n",
                f"/* {heading} */ new section",
            )
            while True:
                current = wiki.page_text(PAGE)
                section = current[current.index(f"== {heading} ==") :]
                if ":{{ATS status|" in section.split("\n== ", 1)[0]:
                    break
                time.sleep(0.1)
            by_clock.append(time.monotonic() - before)
            last_reply = time.monotonic()
            reply, filed = revisions(wiki)[:2]
            assert reply["user"] == wiki.bot_user and heading in filed["comment"]
            by_wiki.append((stamp(reply) - stamp(filed)).total_seconds())
            process.send_signal(signal.SIGKILL)  # the next round starts with a kill too
            process.wait()
        ctrl = config.parent / "pywikibot" / "throttle.ctrl"
        listed = len(ctrl.read_text().splitlines()) if ctrl.exists() else 0
    finally:
        wiki.stop()

    print(f"{args.rounds} rounds of {args.kills} SIGKILLs, then one request (edit_interval 10 s)")
    print(
        f"save -> reply, the wiki's revision timestamps: median "
        f"{statistics.median(by_wiki):.0f} s, max {max(by_wiki):.0f} s "
        f"({', '.join(f'{x:.0f}' for x in by_wiki)})"
    )
    print(
        f"before the save -> reply visible, this machine's clock: median "
        f"{statistics.median(by_clock):.2f} s, max {max(by_clock):.2f} s, min {min(by_clock):.2f} s"
    )
    print(f"{args.kills} starts and kills took {statistics.median(kills_took):.1f} s (median)")
    print(f"processes listed in pywikibot's throttle.ctrl at the end: {listed}")


if __name__ == "__main__":
    main()
