"""Time bot.rules.page on a 1,000-request page: parse + render (a reply for every request),
request_keys alone, and the peak memory of one parse + render.

Run from the project root: ``.venv/bin/python bench/bench_parse.py [--requests N] [--runs R]``.
contract §9 asks for parse, process and re-render of such a page in under 2 s of CPU.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.pages import generate_request_page  # noqa: E402
from bot.rules.page import forget_readings, parse, render, request_keys  # noqa: E402

REPLY = (
    ":{{ATS status|awaiting-identity}} Eligible: 2,431 edits on 7 wikis, account 6 years old,"
    " no blocks or locks. Next: log in at http://127.0.0.1:5000/ to confirm your identity. ~~~~"
)


def parse_and_render(text: str) -> str:
    page = parse(text)
    return render(page, {r.key: [REPLY] for r in page.requests})


def timed(
    fn: Callable[[], object], runs: int, *, fresh: bool = True
) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of `runs` calls; `fresh`: each reads every section anew (the
    process's cache of sections already read is emptied first, as in a new process)."""
    walls, cpus = [], []
    for _ in range(runs):
        if fresh:
            forget_readings()
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return walls, cpus


def main(argv: list[str] | None = None) -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--requests", type=int, default=1000)
    args.add_argument("--runs", type=int, default=7)
    opts = args.parse_args(argv)

    text = generate_request_page(opts.requests)
    page = parse(text)
    rendered = parse_and_render(text)
    assert len(page.requests) == opts.requests, len(page.requests)
    assert request_keys(text) == {r.key for r in page.requests}
    assert len(parse(rendered).requests) == opts.requests

    rows = [
        ("parse + render", *timed(lambda: parse_and_render(text), opts.runs)),
        ("parse", *timed(lambda: parse(text), opts.runs)),
        ("parse, cached", *timed(lambda: parse(text), opts.runs, fresh=False)),
        ("render", *timed(lambda: render(page, {r.key: [REPLY] for r in page.requests}), 20)),
        ("request_keys", *timed(lambda: request_keys(text), opts.runs)),
    ]
    tracemalloc.start()
    parse_and_render(text)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    size = len(text.encode())
    print(f"page: {opts.requests} requests, {len(page.discussions)} discussions, ", end="")
    print(f"{size / 1e6:.2f} MB of wikitext; {opts.runs} runs")
    print(f"{'':16} {'wall min':>9} {'wall med':>9} {'cpu min':>9} {'cpu med':>9}")
    for name, walls, cpus in rows:
        cells = (min(walls), statistics.median(walls), min(cpus), statistics.median(cpus))
        print(f"{name:16}" + "".join(f" {1000 * c:7.1f}ms" for c in cells))
    print(f"peak memory of one parse + render (tracemalloc): {peak / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
