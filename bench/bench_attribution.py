"""What exact attribution costs: every revision between two cycles examined, none sampled.

Against a real local MediaWiki: a page of 20 requests is read once by the bot; then 500
revisions are saved by six users (comments under requests, an admin's approval, a
blanking followed by junk edits and an undo range that restores the page, a rollback),
and `ats bot run --once` runs as a user would. It reports the API requests the wiki
served (from the `php -S` request log), the bot's CPU and wall time, and the same for
the next cycle with nothing changed. Then the first cycle on a page of 1,000 open
requests (each naming its own account), and a cycle with one new request on it.

Run from the project root: ``.venv/bin/python bench/bench_attribution.py [--keep DIR]``
(about three minutes; it starts and stops its own wiki).
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_cycle import USERS, cycle, request_section  # noqa: E402

from devtools.devwiki import DevWiki  # noqa: E402
from devtools.sample import write_config  # noqa: E402

REVISIONS = 500


class Editor:
    """API edits as one seeded user (faster than a maintenance script per edit)."""

    def __init__(self, wiki: DevWiki, user: str) -> None:
        self.wiki = wiki
        self.session = wiki.api_as(user)
        self.token = self.session.get(
            wiki.api_url,
            params={"action": "query", "meta": "tokens", "format": "json"},
            timeout=30,
        ).json()["query"]["tokens"]["csrftoken"]

    def save(self, title: str, text: str) -> int:
        data = self.session.post(
            self.wiki.api_url,
            data={
                "action": "edit",
                "title": title,
                "text": text,
                "token": self.token,
                "format": "json",
            },
            timeout=30,
        ).json()
        if data.get("edit", {}).get("result") != "Success":
            raise SystemExit(f"edit failed: {data}")
        return int(data["edit"].get("newrevid") or 0)


def text_of(wiki: DevWiki, title: str) -> str:
    return wiki.page_text(title)


def five_hundred_revisions(wiki: DevWiki, title: str) -> int:
    """Save REVISIONS revisions of `title`; returns how many were saved."""
    editors = {user: Editor(wiki, user) for user in USERS}
    text = text_of(wiki, title)
    saved = 0
    last = restore_point = _last_revid(wiki, title)
    for n in range(REVISIONS - 3):
        user = USERS[n % len(USERS)]
        if n == 100:
            text = text.replace(
                "== Account request: old 3 ==",
                "== Account request: old 3 ==\n:{{ATS approve}} ~~~~",
            )
            user = "ChapterAdmin"
        if n == 200:
            restore_point = last
            editors["Newcomer"].save(title, "blanked\n")
            saved += 1
            continue
        if 200 < n < 290:
            editors["Dormant"].save(title, f"blanked {n}\n")
            saved += 1
            continue
        if n == 290:
            wiki.undo_as("ChapterAdmin", title, _last_revid(wiki, title), restore_point)
            saved += 1
            text = text_of(wiki, title)
            continue
        heading = f"== Account request: old {n % 20} =="
        text = text.replace(heading, f"{heading}\n:comment {n}")
        last = editors[user].save(title, text)
        saved += 1
    editors["Newcomer"].save(title, text + "\nvandalism\n")
    saved += 1
    wiki.rollback_as("ChapterAdmin", title, "Newcomer")
    saved += 1
    return saved


def _last_revid(wiki: DevWiki, title: str) -> int:
    response = requests.get(
        wiki.api_url,
        params={
            "action": "query",
            "prop": "revisions",
            "titles": title,
            "rvprop": "ids",
            "format": "json",
            "formatversion": 2,
        },
        timeout=30,
    )
    return int(response.json()["query"]["pages"][0]["revisions"][0]["revid"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="keep the wiki and stores in this folder")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="ats-bench-attr-"))
    wiki = DevWiki.create(root / "wiki")
    wiki.start()
    try:
        wiki.seed()
        title = "Bench/Attribution"
        config = write_config(wiki, root / "attribution", request_page=title)
        text = "Requests.\n\n" + "".join(request_section(n, "old") for n in range(20))
        wiki.edit_as("Admin", title, text, "page")
        cycle(wiki, config, title)
        saved = five_hundred_revisions(wiki, title)
        first = cycle(wiki, config, title)
        again = cycle(wiki, config, title)
        # the same cycle for one new revision: what a cycle costs without a long walk
        text = text_of(wiki, title).replace(
            "== Account request: old 5 ==", "== Account request: old 5 ==\n:one more ~~~~"
        )
        wiki.edit_as("Veteran", title, text, "comment")
        single = cycle(wiki, config, title)
        print(f"{saved} revisions between two cycles (page of 20 requests)")
        print("| cycle | API requests | text batches, at most | bot CPU s | wall s |")
        print("|---|---:|---:|---:|---:|")
        print(
            f"| after {saved} revisions | {first['requests']} | {math.ceil(saved / 50)} "
            f"| {first['cpu']:.2f} | {first['wall']:.2f} |"
        )
        print(
            f"| after 1 revision (for comparison) | {single['requests']} | 1 "
            f"| {single['cpu']:.2f} | {single['wall']:.2f} |"
        )
        print(
            f"| next, unchanged | {again['requests']} | 0 "
            f"| {again['cpu']:.2f} | {again['wall']:.2f} |"
        )

        big = "Bench/Attribution 1000"
        config = write_config(wiki, root / "big", request_page=big)
        text = "Requests.\n\n" + "".join(request_section(n, "big") for n in range(1000))
        wiki.edit_as("Admin", big, text, "page")
        whole = cycle(wiki, config, big)
        text = text_of(wiki, big).rstrip("\n") + "\n\n" + request_section(0, "new")
        wiki.edit_as("Veteran", big, text, "new request")
        one = cycle(wiki, config, big)
        print()
        print("| 1,000 open requests | API requests | edits | bot CPU s | wall s |")
        print("|---|---:|---:|---:|---:|")
        for label, row in (("first cycle", whole), ("one new request", one)):
            print(
                f"| {label} | {row['requests']} | {row['edits']} | {row['cpu']:.2f} "
                f"| {row['wall']:.2f} |"
            )
    finally:
        wiki.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
