"""The request page's provenance for one clerk cycle: history in, identities and authors out.

`follow` loads the page's provenance walk from the store, reads only the revisions
after its cursor (metadata in one query; texts 50 per request, skipping the current
revision, which the cycle has read, and every revision whose content the walk already
knows by its sha1), advances the walk (`bot.rules.provenance`, pure), saves it and
returns a `History` (`bot.rules.history`): plain data that judging and deciding ask, with
no I/O, who filed a request (the origin of its identity), who added a decision template,
and which status lines the bot did not write. Every revision is examined: nothing is
sampled, so no edit can hide between two probes.
"""

from __future__ import annotations

import sys
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bot import wiki
from bot.rules.history import History
from bot.rules.provenance import LAYOUTS_KEPT, PageHistory, Revision
from bot.rules.settings import ClerkSettings

if TYPE_CHECKING:
    from membership.store import Store


def follow(site: Any, store: Store, settings: ClerkSettings, current: wiki.PageRevision) -> History:
    """Bring the stored walk up to `current` (its text already read) and save it."""
    s = settings
    state = PageHistory(store.provenance(s.page))
    history = History(state, current.text, s.vocab, s.bot_user)
    revid = current.revid or 0
    if revid <= state.cursor:
        return history
    if current.parentid and current.parentid == state.cursor:
        metas: Sequence[Any] = [current]  # the only new revision: no history query
    else:
        metas = [
            m
            for m in wiki.history(site, s.page, state.cursor or None, limit=sys.maxsize)
            if m.revid <= revid
        ]
        if not metas or metas[-1].revid != revid:
            metas = [*metas, current]
    index = 0
    while index < len(metas):
        window, wanted = _window(state, metas, index, revid)
        texts = wiki.revision_texts(site, wanted) if wanted else {}
        for meta in window:
            text = current.text if meta.revid == revid else texts.get(meta.revid)
            state.advance(
                Revision(
                    meta.revid,
                    meta.user or "",
                    meta.sha1,
                    tuple(meta.tags),
                    text,
                    meta.timestamp or "",
                ),
                s.vocab,
                clerk=s.bot_user,
            )
        index += len(window)
    store.save_provenance(s.page, state.cursor, state.to_json())
    return history


def _window(
    state: PageHistory, metas: Sequence[Any], start: int, current: int
) -> tuple[list[Any], list[int]]:
    """The next revisions to walk and the texts to fetch for them (at most one batch).

    Mirrors the walk's memory of contents by sha1 (bounded, oldest forgotten first),
    so a revision whose content will be known when its turn comes is not fetched.
    """
    known: OrderedDict[str, None] = OrderedDict.fromkeys(state.layouts)
    window: list[Any] = []
    wanted: list[int] = []
    for meta in metas[start:]:
        sha1 = (meta.sha1 or "")[:16]
        fetch = meta.revid != current and (not sha1 or sha1 not in known)
        if fetch and len(wanted) == wiki.BATCH:
            break
        if fetch:
            wanted.append(meta.revid)
        window.append(meta)
        if sha1:
            known.pop(sha1, None)
            known[sha1] = None
            while len(known) > LAYOUTS_KEPT:
                known.popitem(last=False)
    return window, wanted
