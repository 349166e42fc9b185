"""What the benchmarks share to time their work and print it as a Markdown table.

`Stopwatch` times the named steps of one round (a wiki built, started, seeded...),
`spread` prints each step's spread over the rounds, and `measured` gives one run's
wall-clock and CPU time (this process's, i.e. the client's side of a server), and
`Cost.per` both per item.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


class Stopwatch:
    """The wall-clock seconds of each named step of one round, in the order run."""

    def __init__(self) -> None:
        self.times: dict[str, float] = {}

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        mark = time.monotonic()
        yield
        self.times[name] = time.monotonic() - mark


def spread(rounds: list[dict[str, float]], *, decimals: int, with_max: bool = True) -> None:
    """One row per step: its min, median (and max) seconds over the rounds."""
    columns = ["min s", "median s"] + (["max s"] if with_max else [])
    print(f"| step | {' | '.join(columns)} |\n|---|{'---:|' * len(columns)}")
    for step in rounds[0]:
        values = [r[step] for r in rounds]
        figures = [min(values), statistics.median(values)] + ([max(values)] if with_max else [])
        print(f"| {step} | {' | '.join(f'{v:.{decimals}f}' for v in figures)} |")


@dataclass(frozen=True)
class Cost:
    """The wall-clock and CPU seconds one run took."""

    wall: float
    cpu: float

    def per(self, count: int) -> str:
        """The wall-clock and CPU milliseconds per item, as two table cells."""
        return f"{1000 * self.wall / count:.2f} ms | {1000 * self.cpu / count:.2f} ms"


def measured(work: Callable[[], T]) -> tuple[T, Cost]:
    """What `work` returned, and what it cost."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return result, Cost(time.perf_counter() - wall, time.process_time() - cpu)
