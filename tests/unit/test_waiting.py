"""`tests.waiting.wait_until`: returns what the condition gave as soon as it holds, and
fails with a description of what never happened."""

from __future__ import annotations

import time

import pytest

from tests.waiting import wait_until


def test_returns_the_first_true_value_without_waiting_longer() -> None:
    answers = iter([0, [], 3])
    started = time.monotonic()
    assert wait_until(lambda: next(answers), 5, interval=0.01) == 3
    assert time.monotonic() - started < 1


def test_fails_after_the_timeout_saying_what_was_waited_for() -> None:
    outputs = ["nothing yet"]
    started = time.monotonic()
    with pytest.raises(AssertionError, match=r"waited 0\.2 s for the reply \(nothing yet\)"):
        wait_until(lambda: False, 0.2, interval=0.05, what=lambda: f"the reply ({outputs[-1]})")
    assert 0.2 <= time.monotonic() - started < 2


def test_an_error_in_the_condition_is_not_swallowed() -> None:
    def broken() -> bool:
        raise AssertionError("the watcher ended")

    with pytest.raises(AssertionError, match="the watcher ended"):
        wait_until(broken, 5)
