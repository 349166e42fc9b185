"""How long the two-wiki CentralAuth farm takes to build, and to take accounts in bulk.

Builds a farm (devtools.devfarm) in a temporary folder R times and times `DevFarm.create`,
`start` and `seed` (the personas: 5,300 revisions imported, most on enwiki), then adds
50 global accounts, half editing on each wiki, twice: with every edit a revision, and
with `old_revisions=20` (the recent edits and 20 old ones imported, the rest counted).
Needs the CentralAuth extension (see `devtools.devfarm.centralauth_dir`).

Run from the project root:
``.venv/bin/python bench/bench_farm.py [--rounds R] [--edits N]``
(about two minutes per round with the defaults).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.timing import Stopwatch, spread  # noqa: E402
from devtools.devfarm import DevFarm, GlobalUserSpec  # noqa: E402


def specs(prefix: str, edits: int, old_revisions: int | None) -> list[GlobalUserSpec]:
    return [
        GlobalUserSpec(
            f"{prefix} {i}",
            400 + i,
            {"enwiki" if i % 2 else "metawiki": (edits, 20)},
            old_revisions=old_revisions,
        )
        for i in range(50)
    ]


def one_round(edits: int) -> dict[str, float]:
    clock = Stopwatch()
    with tempfile.TemporaryDirectory(prefix="bench-farm-") as tmp:
        with clock.step("create"):
            farm = DevFarm.create(Path(tmp))
        try:
            with clock.step("start"):
                farm.start()
            with clock.step("seed"):
                farm.seed()
            clock.times["create+start+seed"] = sum(clock.times.values())
            with clock.step(f"50 accounts x {edits} revisions"):
                farm.add_global_users(specs("Full", edits, None))
            with clock.step(f"50 accounts x {edits} edits, 40 revisions each"):
                farm.add_global_users(specs("Counted", edits, 20))
        finally:
            farm.stop()
    return clock.times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--edits", type=int, default=600, help="edits of each bulk account")
    args = parser.parse_args()
    spread([one_round(args.edits) for _ in range(args.rounds)], decimals=1, with_max=False)


if __name__ == "__main__":
    main()
