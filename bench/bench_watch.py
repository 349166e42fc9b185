"""How fast `ats bot watch` answers, and whether its memory stays flat.

Starts its own local wiki, starts `ats bot watch` with the defaults a user gets
(`--poll 2`), lets it poll an idle page for a few minutes, then files K requests one
at a time (each a real edit by a seeded user) and measures, for each, the time from
just before the save to the bot's reply being visible through the API. The watcher's
resident memory (VmRSS from /proc/PID/status) is sampled every second throughout.
Last, it times the candidate "did the watched pages change?" queries against the
same wiki, to show what one poll costs.

Run from the project root:
``.venv/bin/python bench/bench_watch.py [--requests K] [--idle SECONDS]``
(about five minutes with the defaults; it starts and stops its own wiki).
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devtools.devwiki import DevWiki  # noqa: E402
from devtools.sample import RUN_PAGE, write_config  # noqa: E402

PAGE = "Toolserver/Requests"
USERS = ["Veteran", "Newcomer", "Ярослава", "משתמש ותיק", "Dormant", "ChapterAdmin"]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def page_text(wiki: DevWiki) -> str:
    return wiki.page_text(PAGE)


def time_query(wiki: DevWiki, params: dict[str, str], runs: int = 50) -> tuple[float, int]:
    """Median milliseconds and response bytes of one API query."""
    times, size = [], 0
    session = requests.Session()
    for _ in range(runs):
        started = time.perf_counter()
        response = session.get(wiki.api_url, params={**params, "format": "json"}, timeout=30)
        times.append((time.perf_counter() - started) * 1000)
        size = len(response.content)
    return statistics.median(times), size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10, help="requests to file (K)")
    parser.add_argument("--idle", type=float, default=180, help="seconds of idle polling")
    parser.add_argument("--keep", type=Path, help="keep the wiki in this folder")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="bench-watch-"))
    wiki = DevWiki.create(root / "wiki")
    wiki.start()
    samples: list[tuple[float, str, int]] = []
    try:
        wiki.seed()
        wiki.edit_as(wiki.admin_user, PAGE, "Requests for accounts.\n", "request page")
        config = write_config(wiki, root / "bot", request_page=PAGE)
        env = {**os.environ, "ATS_BOT_PASSWORD": wiki.bot_password}
        out = (root / "watch.out").open("w")
        watcher = subprocess.Popen(
            [sys.executable, "-m", "ats.cli", "--config", str(config), "bot", "watch"],
            stdout=out,
            stderr=(root / "watch.err").open("w"),
            env=env,
        )
        phase = ["start"]
        done = threading.Event()

        def sample() -> None:
            started = time.monotonic()
            while not done.wait(1.0):
                samples.append((time.monotonic() - started, phase[0], rss_kib(watcher.pid)))

        threading.Thread(target=sample, daemon=True).start()
        while "nothing-to-say" not in (root / "watch.out").read_text():
            time.sleep(0.2)
        phase[0] = "idle"
        offset = wiki.log_size()
        time.sleep(args.idle)
        idle_requests = wiki.api_requests_since(offset)

        phase[0] = "filing"
        latencies = []
        for n in range(args.requests):
            user = USERS[n % len(USERS)]
            heading = f"Account request: bench {n}"
            text = page_text(wiki).rstrip("\n")
            body = "{{ATS request\n | type = account\n | purpose = Benchmark.\n}}\n~~~~"
            started = time.monotonic()
            wiki.edit_as(user, PAGE, f"{text}\n\n== {heading} ==\n{body}\n", "new request")
            while True:
                current = page_text(wiki)
                section = current[current.index(f"== {heading} ==") :]
                if ":{{ATS status|" in section.split("\n== ", 1)[0]:
                    break
                time.sleep(0.1)
            latencies.append(time.monotonic() - started)
        phase[0] = "after"
        time.sleep(30)
        done.set()
        watcher.send_signal(signal.SIGTERM)
        code = watcher.wait(timeout=30)

        queries = {
            "the poll (rcnamespace of both titles, client-side filter)": {
                "action": "query",
                "list": "recentchanges",
                "rcnamespace": "0",
                "rcstart": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 12)),
                "rcdir": "newer",
                "rcprop": "title|ids|timestamp",
                "rctype": "edit|new|log",
                "rclimit": "max",
            },
            "rctitle (one title only)": {
                "action": "query",
                "list": "recentchanges",
                "rctitle": PAGE,
                "rcdir": "newer",
                "rcstart": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 12)),
                "rcprop": "title|ids|timestamp",
            },
            "prop=info of both titles": {
                "action": "query",
                "prop": "info",
                "titles": f"{PAGE}|{RUN_PAGE}",
            },
            "the clerk's read (both pages with content)": {
                "action": "query",
                "prop": "revisions",
                "titles": f"{PAGE}|{RUN_PAGE}",
                "rvprop": "ids|timestamp|user|content",
                "rvslots": "main",
            },
        }
        costs = {name: time_query(wiki, params) for name, params in queries.items()}
    finally:
        wiki.stop()

    def rss(name: str) -> list[int]:
        return [kib for _, phase_name, kib in samples if phase_name == name]

    idle = rss("idle")
    print(f"watcher exit status after SIGTERM: {code}")
    print(
        f"reaction, save to visible reply, {len(latencies)} requests: "
        f"median {statistics.median(latencies):.2f} s, max {max(latencies):.2f} s, "
        f"min {min(latencies):.2f} s"
    )
    print(
        f"idle polling: {idle_requests} API requests in {args.idle:.0f} s "
        f"({idle_requests / args.idle * 2:.2f} per 2-s poll)"
    )
    print(
        f"RSS idle: first {idle[0] / 1024:.1f} MiB, after {len(idle)} s "
        f"{idle[-1] / 1024:.1f} MiB, max {max(idle) / 1024:.1f} MiB"
    )
    print(
        f"RSS filing: max {max(rss('filing')) / 1024:.1f} MiB; after: "
        f"{rss('after')[-1] / 1024:.1f} MiB"
    )
    quarter = max(1, len(idle) // 4)
    print(
        "RSS idle by quarter (MiB): "
        + ", ".join(f"{idle[i] / 1024:.1f}" for i in range(0, len(idle), quarter))
    )
    for name, (ms, size) in costs.items():
        print(f"query {name}: median {ms:.1f} ms, {size} bytes")


if __name__ == "__main__":
    main()
