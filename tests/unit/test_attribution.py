"""Who introduced each request, found by searching a fake page history; and what it costs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pytest

from bot.attribution import introductions


@dataclass(frozen=True)
class Rev:
    revid: int
    user: str
    timestamp: str


@dataclass
class FakeHistory:
    """`size` revisions; key K is on the page from revision index `added[K]` onwards."""

    size: int
    added: Mapping[str, int]
    calls: list[list[int]] = field(default_factory=list)

    @property
    def revisions(self) -> list[Rev]:
        return [Rev(1000 + i, f"User{i}", f"2025-01-01T00:00:{i:02d}Z") for i in range(self.size)]

    def fetch_texts(self, revids: list[int]) -> dict[int, str]:
        self.calls.append(list(revids))
        return {
            revid: " ".join(k for k, at in sorted(self.added.items()) if revid - 1000 >= at)
            for revid in revids
        }

    @staticmethod
    def keys_in(text: str) -> frozenset[str]:
        return frozenset(text.split())

    def run(self, keys: list[str]) -> dict[str, int]:
        found = introductions(self.revisions, keys, self.fetch_texts, self.keys_in)
        return {key: rev.revid - 1000 for key, rev in found.items()}

    @property
    def fetched(self) -> int:
        return sum(len(c) for c in self.calls)


CASES = [
    (1, {"a": 0}),
    (2, {"a": 0, "b": 1}),
    (2, {"b": 1}),
    (49, {"a": 0, "b": 17, "c": 48}),
    (50, {"a": 0, "b": 25, "c": 49}),
    (51, {"a": 0, "b": 1, "c": 50}),
    (3000, {"a": 0, "b": 1234, "c": 2999}),
    (3000, {"b": 1, "c": 1500, "d": 2998}),
]


@pytest.mark.parametrize(("size", "added"), CASES)
def test_each_key_is_attributed_to_the_revision_that_added_it(
    size: int, added: dict[str, int]
) -> None:
    history = FakeHistory(size, added)
    assert history.run(sorted(added)) == added
    assert history.calls, "at least one revision text is needed"
    assert all(len(set(call)) == len(call) for call in history.calls)


@pytest.mark.parametrize(("size", "added"), CASES)
def test_no_revision_is_fetched_twice(size: int, added: dict[str, int]) -> None:
    history = FakeHistory(size, added)
    history.run(sorted(added))
    every = [revid for call in history.calls for revid in call]
    assert len(every) == len(set(every))


@pytest.mark.parametrize("where", list(range(0, 3000, 137)) + [2998, 2999])
def test_a_single_key_anywhere_in_a_long_history(where: int) -> None:
    history = FakeHistory(3000, {"k": where})
    assert history.run(["k"]) == {"k": where}
    assert len(history.calls) <= 3
    assert all(len(call) <= 50 for call in history.calls)


def test_three_keys_in_3000_revisions_cost_few_calls() -> None:
    history = FakeHistory(3000, {"a": 0, "b": 1234, "c": 2999})
    assert history.run(["a", "b", "c"]) == {"a": 0, "b": 1234, "c": 2999}
    sizes = [len(call) for call in history.calls]
    # Recorded when this test was written: 3 calls of 50, 48 and 8 revids (4 calls before the
    # last revision was fetched with the first probes).
    assert len(sizes) <= 8
    assert max(sizes) <= 200
    assert sum(sizes) <= 200


def test_keys_added_since_the_last_visit_cost_little() -> None:
    # The usual case: the bot looks only at the few revisions since its last cycle.
    history = FakeHistory(3, {"new": 2})
    assert history.run(["new"]) == {"new": 2}
    assert len(history.calls) == 1
    assert history.fetched == 3


def test_a_key_never_present_is_left_out() -> None:
    history = FakeHistory(3000, {"a": 10})
    assert history.run(["a", "ghost"]) == {"a": 10}


def test_a_revision_whose_text_is_missing_counts_as_empty() -> None:
    history = FakeHistory(5, {"a": 1})

    def texts(revids: list[int]) -> dict[int, str]:
        history.calls.append(list(revids))
        return {r: "a" for r in revids if r - 1000 >= 1 and r != 1002}  # 1002 deleted

    found = introductions(history.revisions, ["a"], texts, FakeHistory.keys_in)
    assert found["a"].revid in (1001, 1003)


@pytest.mark.parametrize(("size", "keys"), [(0, ["a"]), (5, [])])
def test_empty_history_or_no_keys(size: int, keys: list[str]) -> None:
    history = FakeHistory(size, {"a": 0})
    assert history.run(keys) == {}
    assert history.calls == []


def test_many_keys_at_once() -> None:
    added = {f"k{i:03d}": i * 29 for i in range(100)}
    history = FakeHistory(3000, added)
    assert history.run(sorted(added)) == added
    assert len(history.calls) <= 12
