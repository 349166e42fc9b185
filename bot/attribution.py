"""Who added each request: the revision that introduced a section, from the history.

Pure: the caller passes the page history (metadata, oldest first), a function that
returns the text of given revisions (one API request per call of up to 50), and a
function that lists the request keys present in a text. A key's first appearance is
found by a 50-way search over the history, so a request page with thousands of
revisions costs two or three content requests, and requests added since the bot's
last visit (the usual case) cost one. Signatures are never read: a request belongs
to whoever saved the revision that first held it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Protocol


class Revision(Protocol):
    revid: int
    user: str
    timestamp: str


PROBES = 50


def introductions(
    history: Sequence[Revision],
    keys: Iterable[str],
    fetch_texts: Callable[[list[int]], Mapping[int, str]],
    keys_in: Callable[[str], frozenset[str]],
) -> dict[str, Revision]:
    """The earliest revision in `history` holding each key (keys present at its end).

    A key absent from every fetched revision is left out of the answer; the caller
    decides what to do with a request whose author cannot be proven.
    """
    wanted = set(keys)
    if not history or not wanted:
        return {}
    cache: dict[int, frozenset[str]] = {}

    def present(indices: Iterable[int]) -> None:
        missing = sorted({history[i].revid for i in indices} - cache.keys())
        if missing:
            texts = fetch_texts(missing)
            for revid in missing:
                cache[revid] = keys_in(texts.get(revid, ""))

    # Each key's first appearance lies in (low, high]: absent at low, present at high.
    # low = -1 stands for "before the first revision".
    bounds = {key: (-1, len(history) - 1) for key in wanted}
    while True:
        open_ranges = {b for b in bounds.values() if b[1] - b[0] > 1}
        if not open_ranges:
            break
        # The last revision is needed in the end anyway: fetch it with the first probes
        # rather than in a request of its own.
        last = len(history) - 1
        probes: set[int] = set() if history[last].revid in cache else {last}
        share = max(1, (PROBES - len(probes)) // len(open_ranges))
        for low, high in open_ranges:
            probes.update(_spread(low, high, share))
        present(sorted(probes))
        for key, (low, high) in bounds.items():
            if high - low <= 1:
                continue
            for index in range(low + 1, high):
                revid = history[index].revid
                if revid not in cache:
                    continue
                if key in cache[revid]:
                    high = index
                    break
                low = index
            bounds[key] = (low, high)
    present(high for _, high in bounds.values())
    return {
        key: history[high]
        for key, (_, high) in bounds.items()
        if key in cache.get(history[high].revid, frozenset())
    }


def _spread(low: int, high: int, count: int) -> list[int]:
    """Up to `count` indices strictly between low and high, evenly spaced."""
    span = high - low - 1
    if span <= count:
        return list(range(low + 1, high))
    step = (span + 1) / (count + 1)
    return sorted({low + max(1, round(step * (i + 1))) for i in range(count)} - {high})
