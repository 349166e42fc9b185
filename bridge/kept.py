"""What a page computes at a cost from data that change rarely, kept until the store's
data change.

The bridge keeps such values for the whole process, under a name and the key of
everything else they depend on (the reader's language, the day), with the stamp of the
store read before computing them (`membership.store.ChangeWatch`): the stamp moves as
soon as any process commits a change to the store (the bot, the provisioning worker,
any thread of the bridge), so a kept value is never older than the data. A value that
depends on the clock too (how long ago something happened) is kept at most `seconds`.
One thread computes a name's value at a time: the threads that ask meanwhile wait for
it rather than compute it too (right after a change, every thread asks at once), and
take it if its data were read after they asked.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

from flask import Flask, current_app, g, render_template, request
from markupsafe import Markup

from bridge import i18n
from membership.store import ChangeWatch

T = TypeVar("T")
EXTENSION = "ats_kept"
# Values kept: a few addresses of a page, each in a few languages.
KEPT = 32


@dataclass(frozen=True)
class _Value:
    stamp: tuple[int, int]
    at: float
    value: Any


@dataclass
class Shelf:
    """The values kept for one store, the most recently used last."""

    watch: ChangeWatch
    values: OrderedDict[Hashable, _Value] = field(default_factory=OrderedDict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    turns: dict[str, threading.Lock] = field(default_factory=dict)

    def fresh(
        self, where: Hashable, stamp: tuple[int, int], seconds: float | None
    ) -> _Value | None:
        with self.lock:
            found = self.values.get(where)
            if found is None or found.stamp != stamp:
                return None
            if seconds is not None and time.monotonic() - found.at >= seconds:
                return None
            self.values.move_to_end(where)
            return found

    def since(self, where: Hashable, asked: float, seconds: float | None) -> _Value | None:
        """The value of `where` if its data were read after the moment `asked`."""
        with self.lock:
            found = self.values.get(where)
            if found is None or found.at < asked:
                return None
            if seconds is not None and time.monotonic() - found.at >= seconds:
                return None
            return found

    def put(self, where: Hashable, value: _Value) -> None:
        with self.lock:
            self.values[where] = value
            self.values.move_to_end(where)
            while len(self.values) > KEPT:
                self.values.popitem(last=False)

    def turn(self, name: str) -> threading.Lock:
        """The lock a thread holds while it computes `name`'s value."""
        with self.lock:
            return self.turns.setdefault(name, threading.Lock())


def install(app: Flask, store_path: str | Path) -> None:
    app.extensions[EXTENSION] = Shelf(ChangeWatch(store_path))


def kept(
    name: str,
    key: Hashable,
    compute: Callable[[], T],
    *,
    seconds: float | None = None,
) -> T:
    """The value `compute()` gave for `name` and `key`, while the store has not changed
    since (and it is not older than `seconds`); else `compute()` again, kept in place of
    the value used least recently when `KEPT` are. `compute` may keep values of other
    names, never of its own."""
    shelf: Shelf = current_app.extensions[EXTENSION]
    where = (name, key)
    asked = time.monotonic()
    found = shelf.fresh(where, shelf.watch.stamp(), seconds)
    if found is None:
        with shelf.turn(name):
            at = time.monotonic()
            stamp = shelf.watch.stamp()  # before computing: a change meanwhile is seen
            # Another thread's value, made while this one waited: current if nothing
            # changed since, or as new as this one would be if its data were read after
            # this thread asked (under a stream of changes, the threads that waited take
            # it rather than compute one after another).
            found = shelf.fresh(where, stamp, seconds) or shelf.since(where, asked, seconds)
            if found is None:
                found = _Value(stamp, at, compute())
                shelf.put(where, found)
    return cast(T, found.value)


def language() -> tuple[str, bool]:
    """The reader's language, as the words of a page depend on it (`?uselang=qqx` too)."""
    return g.interface_language_code, bool(g.qqx)


def address() -> tuple[Hashable, ...]:
    """What a kept part of a page depends on besides the store and the clock: the
    reader's language, the language the address asked for (the part's links carry it)
    and where the bridge is mounted (they begin with it)."""
    return (*language(), request.args.get("uselang"), request.script_root)


def part(template: str, **context: Any) -> Markup:
    """A part of a page rendered on its own, to keep: its messages tagged as they would
    be in place (`i18n.in_page_language`)."""
    with i18n.in_page_language():
        html = render_template(template, **context)
    return Markup(html)  # noqa: S704 - rendered by Jinja, which escaped it
