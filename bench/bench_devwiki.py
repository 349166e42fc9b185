"""How long the local development wiki takes to build, start, seed and restart.

Builds a wiki (devtools.devwiki) in a temporary folder R times and times `DevWiki.create`
(install.php, the bot's BotPassword), the first `start` (`php -S` up and answering), the
first `seed` (the requester accounts and their past histories), a second `seed` (a
seeded wiki only reads its plan: the tests call it freely), and a `start` after a
`stop`. The tests do not assert these times: a busy machine should make a figure
slower, not a test fail.

Run from the project root: ``.venv/bin/python bench/bench_devwiki.py [--rounds R]``
(about 25 s per round on a busy 2-core machine).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devtools.devwiki import DevWiki  # noqa: E402


def one_round() -> dict[str, float]:
    times: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-devwiki-") as tmp:
        mark = time.monotonic()
        wiki = DevWiki.create(Path(tmp) / "wiki")
        times["`DevWiki.create` (install.php, bot password)"] = time.monotonic() - mark
        try:
            mark = time.monotonic()
            wiki.start()
            times["first `start` (php -S up and answering)"] = time.monotonic() - mark
            mark = time.monotonic()
            wiki.seed()
            times["first `seed` (accounts, past histories, block)"] = time.monotonic() - mark
            mark = time.monotonic()
            wiki.seed()
            times["`seed` again (already seeded)"] = time.monotonic() - mark
            wiki.stop()
            mark = time.monotonic()
            wiki.start()
            times["`start` after `stop`"] = time.monotonic() - mark
        finally:
            wiki.stop()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rounds = [one_round() for _ in range(args.rounds)]
    print("| step | min s | median s | max s |\n|---|---:|---:|---:|")
    for step in rounds[0]:
        values = [r[step] for r in rounds]
        print(
            f"| {step} | {min(values):.3f} | {statistics.median(values):.3f} | {max(values):.3f} |"
        )


if __name__ == "__main__":
    main()
