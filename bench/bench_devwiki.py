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
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.timing import Stopwatch, spread  # noqa: E402
from devtools.devwiki import DevWiki  # noqa: E402


def one_round() -> dict[str, float]:
    clock = Stopwatch()
    with tempfile.TemporaryDirectory(prefix="bench-devwiki-") as tmp:
        with clock.step("`DevWiki.create` (install.php, bot password)"):
            wiki = DevWiki.create(Path(tmp) / "wiki")
        try:
            with clock.step("first `start` (php -S up and answering)"):
                wiki.start()
            with clock.step("first `seed` (accounts, past histories, block)"):
                wiki.seed()
            with clock.step("`seed` again (already seeded)"):
                wiki.seed()
            wiki.stop()
            with clock.step("`start` after `stop`"):
                wiki.start()
        finally:
            wiki.stop()
    return clock.times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    spread([one_round() for _ in range(args.rounds)], decimals=3)


if __name__ == "__main__":
    main()
