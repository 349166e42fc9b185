"""Waiting for a condition instead of sleeping.

A test that sleeps for "long enough" is slow on an idle machine and flaky on a busy
one, and a sleep proves nothing about what happened meanwhile. `wait_until` returns as
soon as the condition holds and fails with a description of what never happened.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    condition: Callable[[], T],
    timeout: float,
    *,
    interval: float = 0.1,
    what: str | Callable[[], str] = "",
) -> T:
    """Call `condition` until it returns something true, and return that; after
    `timeout` seconds fail with `what` (a text, or a function giving one at that moment,
    e.g. the output of the process waited on)."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() >= deadline:
            described = what() if callable(what) else what
            name = getattr(condition, "__name__", "the condition")
            raise AssertionError(f"waited {timeout:g} s for {described or name}, in vain")
        time.sleep(interval)
