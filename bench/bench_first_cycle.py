"""The first cycle on a page of 1,000 open requests, as a whole process.

A page holding 1,000 requests (each naming its own account, so user look-ups are
really batched: 20 × 50) is answered by `ats bot run --once` with a fresh store and a
fresh pywikibot folder, the way a new deployment meets a request page. The
figure is the CPU of the whole bot process — Python start-up, imports, pywikibot, the
login, the history, parsing, judging, the store and the save — measured by the
kernel (getrusage of the child), not by the bot. Each run has a page of its own,
created in one edit by the wiki's admin, and a new store, so that no run walks the
history of the runs before.

Run from the project root: ``.venv/bin/python bench/bench_first_cycle.py [--runs N]``
(about a minute; it starts and stops its own wiki).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ats.demo import write_config  # noqa: E402
from ats.devwiki import DevWiki  # noqa: E402

REQUESTS = 1000


def page_text() -> str:
    return "Requests.\n\n" + "".join(
        f"== Account request: Bench first {n} ==\n{{{{ATS request\n | type = account\n"
        f" | username = Bench first {n}\n | purpose = Benchmark request {n}.\n}}}}\n~~~~\n"
        for n in range(REQUESTS)
    )


def one_run(wiki: DevWiki, root: Path, n: int) -> dict[str, float]:
    title = f"Bench/First cycle {n}"
    config = write_config(wiki, root / "bot", request_page=title)
    for leftover in ("ats.sqlite", "ats.sqlite-wal", "ats.sqlite-shm", "pywikibot", "var"):
        path = config.parent / leftover
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    wiki.edit_as("Admin", title, page_text(), "a page of open requests")
    offset = wiki.log_size()
    env = {**os.environ, "ATS_BOT_PASSWORD": wiki.bot_password}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "ats.cli", "--config", str(config), "bot", "run", "--once"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - wall
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode or "1000 examined" not in done.stdout:
        raise SystemExit(f"the cycle did not answer the page:\n{done.stdout}\n{done.stderr}")
    return {
        "cpu": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        "wall": wall,
        "requests": wiki.api_requests_since(offset),
        "rss_mib": after.ru_maxrss / 1024,
    }


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
    cpu = [r["cpu"] for r in runs]
    wall = [r["wall"] for r in runs]
    print(f"first cycle on {REQUESTS} open requests, {args.runs} runs (whole process):")
    print(f"  CPU s  min {min(cpu):.2f}  median {statistics.median(cpu):.2f}  max {max(cpu):.2f}")
    print(f"  wall s min {min(wall):.2f}  median {statistics.median(wall):.2f}")
    print(
        f"  API requests {runs[-1]['requests']}  peak RSS {max(r['rss_mib'] for r in runs):.0f} MiB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
