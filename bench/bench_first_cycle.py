"""The first cycle on a page of 1,000 open requests, and one new request after it.

A page holding 1,000 requests (each naming its own account, so user look-ups are
really batched: 20 × 50) is answered by `ats bot run --once` with a fresh store and a
fresh pywikibot folder, the way a new deployment meets a request page. The
figure is the CPU of the whole bot process — Python start-up, imports, pywikibot, the
login, the history, parsing, judging, the store and the save — measured by the
kernel (getrusage of the child), not by the bot. Each run has a page of its own,
created in one edit by the wiki's admin, and a new store, so that no run walks the
history of the runs before. Then one new request is added to the page as the bot left
it (an edit by a seeded user) and the next cycle, a new process too, is measured.

Run from the project root: ``.venv/bin/python bench/bench_first_cycle.py [--runs N]``
(about a minute; it starts and stops its own wiki).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_cycle import cycle, request_section  # noqa: E402
from devtools.devwiki import DevWiki  # noqa: E402
from devtools.sample import write_config  # noqa: E402

REQUESTS = 1000


def page_text() -> str:
    return "Requests.\n\n" + "".join(
        f"== Account request: Bench first {n} ==\n{{{{ATS request\n | type = account\n"
        f" | username = Bench first {n}\n | purpose = Benchmark request {n}.\n}}}}\n~~~~\n"
        for n in range(REQUESTS)
    )


def one_run(wiki: DevWiki, root: Path, n: int) -> tuple[dict[str, float], dict[str, float]]:
    """The first cycle on a new page of 1,000 requests, then one new request on it."""
    title = f"Bench/First cycle {n}"
    config = write_config(wiki, root / f"bot-{n}", request_page=title)
    wiki.edit_as("Admin", title, page_text(), "a page of open requests")
    first = cycle(wiki, config, title)
    text = wiki.page_text(title).rstrip("\n") + "\n\n" + request_section(n, "one more")
    wiki.edit_as("Veteran", title, text, "one more request")
    return first, cycle(wiki, config, title)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="ats-bench-first-"))
    wiki = DevWiki.create(root / "wiki")
    wiki.start()
    try:
        wiki.seed()
        runs = [one_run(wiki, root, n) for n in range(args.runs)]
    finally:
        wiki.stop()
        shutil.rmtree(root, ignore_errors=True)
    print(f"{args.runs} runs, each cycle a whole `ats bot run --once` process:")
    for name, rows in (
        (f"first cycle, {REQUESTS} open requests", [first for first, _ in runs]),
        ("then one new request", [then for _, then in runs]),
    ):
        cpu = sorted(r["cpu"] for r in rows)
        wall = statistics.median(r["wall"] for r in rows)
        print(
            f"  {name}: CPU s min {cpu[0]:.2f} median {statistics.median(cpu):.2f} "
            f"max {cpu[-1]:.2f}; wall median {wall:.2f} s; "
            f"{rows[-1]['requests']} API requests, {rows[-1]['edits']} edit"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
