"""What one bot cycle costs against a real local MediaWiki.

For pages with 0, 1, 10 and 100 new requests (each one a real edit by a seeded user,
each naming its own account so user look-ups are really batched), it runs
`ats bot run --once` as a user would and counts the API requests the wiki served
(from the `php -S` request log), the edits saved, and the CPU time of the bot
process. Then it runs the cycle again with nothing changed. Last, a page of 1,000
open requests with one new request measures a cycle at contract §9's scale.

Run from the project root: ``.venv/bin/python bench/bench_cycle.py [--keep DIR]``
(about two minutes; it starts and stops its own wiki).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devtools.devwiki import DevWiki  # noqa: E402
from devtools.sample import write_config  # noqa: E402

USERS = ["Veteran", "Newcomer", "Ярослава", "משתמש ותיק", "Dormant", "ChapterAdmin"]


def request_section(n: int, label: str) -> str:
    return (
        f"== Account request: {label} {n} ==\n{{{{ATS request\n | type = account\n"
        f" | username = Bench {label} {n}\n | purpose = Benchmark request {n}.\n}}}}\n~~~~\n"
    )


def revisions(wiki: DevWiki, title: str) -> int:
    response = requests.get(
        wiki.api_url,
        params={
            "action": "query",
            "prop": "revisions",
            "titles": title,
            "rvlimit": "max",
            "rvprop": "ids",
            "format": "json",
            "formatversion": 2,
        },
        timeout=60,
    )
    return len(response.json()["query"]["pages"][0].get("revisions", []))


def cycle(wiki: DevWiki, config: Path, title: str) -> dict[str, float]:
    env = {**os.environ, "ATS_BOT_PASSWORD": wiki.bot_password}
    edits_before = revisions(wiki, title)
    offset = wiki.log_size()
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "ats.cli", "--config", str(config), "bot", "run", "--once"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - wall
    if done.returncode:
        raise SystemExit(f"cycle failed:\n{done.stdout}\n{done.stderr}")
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "requests": wiki.api_requests_since(offset),
        "edits": revisions(wiki, title) - edits_before,
        "cpu": (cpu_after.ru_utime - cpu_before.ru_utime)
        + (cpu_after.ru_stime - cpu_before.ru_stime),
        "wall": wall,
    }


def scenario(
    wiki: DevWiki, root: Path, new: int, *, existing: int = 0, one_edit_per_request: bool = True
) -> tuple[dict, dict]:
    title = f"Bench/Requests {existing}+{new}"
    config = write_config(wiki, root / f"{existing}-{new}", request_page=title)
    text = "Requests.\n\n" + "".join(request_section(n, "old") for n in range(existing))
    wiki.edit_as("Admin", title, text, "page")
    cycle(wiki, config, title)  # the bot has seen the page as it was
    # New requests go on the page as it is now, the bot's replies kept: editing the text
    # as first written would also remove every reply and re-sign every request.
    text = wiki.page_text(title)
    if one_edit_per_request:
        for n in range(new):
            text = text.rstrip("\n") + "\n\n" + request_section(n, "new")
            wiki.edit_as(USERS[n % len(USERS)], title, text, "new request")
    elif new:
        text = text.rstrip("\n") + "\n\n" + "".join(request_section(n, "new") for n in range(new))
        wiki.edit_as(USERS[0], title, text, "new requests")
    first = cycle(wiki, config, title)
    again = cycle(wiki, config, title)
    return first, again


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="keep the wiki and stores in this folder")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="ats-bench-"))
    wiki = DevWiki.create(root / "wiki")
    wiki.start()
    try:
        wiki.seed()
        print(
            "| new requests | open before | API requests | edits | bot CPU s | wall s |"
            " unchanged re-run: API requests | edits |"
        )
        print("|---:|---:|---:|---:|---:|---:|---:|---:|")
        rows = [(0, 0, True), (1, 0, True), (10, 0, True), (100, 0, True), (1, 1000, False)]
        for new, existing, separate in rows:
            first, again = scenario(
                wiki, root, new, existing=existing, one_edit_per_request=separate
            )
            print(
                f"| {new} | {existing} | {first['requests']} | {first['edits']} | "
                f"{first['cpu']:.2f} | {first['wall']:.2f} | {again['requests']} | "
                f"{again['edits']} |",
                flush=True,
            )
    finally:
        wiki.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
