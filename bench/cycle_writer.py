"""The store traffic of the bot's cycles, without a wiki: what `bench/bench_bridge.py`
runs beside the bridge to measure its pages while the bot writes.

Not the clerk itself: a real cycle reads the request page, its history and the
requesters' user records through the wiki's API, which a benchmark of the bridge has
no wiki for. This process makes, every `--every` seconds, the reads and the two
transactions a cycle that has something to say makes, through the same store methods
(bot/clerk.py, bot/recording.py): it reads the page's records and pending replies,
then in one transaction files a new account request (its audit entry and reply),
moves the oldest request it filed from `received` to `awaiting-approval`, and
approves the oldest one awaiting approval (the decision, the state, the audit entry,
the reply); then, as after the page is saved, marks the replies posted, records the
save and the page's revision in a second transaction, and records the cycle for
`/metrics`. The approved requests are what `ats provision run` (the real worker, on
the dry-run backend) then provisions, so the open queue keeps its size.

``python bench/cycle_writer.py STORE PAGE [--every S]``; on SIGTERM it finishes the
cycle in hand and prints one line: cycles made, and the median and longest cycle.
"""

from __future__ import annotations

import argparse
import signal
import statistics
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from membership import lease  # noqa: E402
from membership.health import record_cycle  # noqa: E402
from membership.states import State  # noqa: E402
from membership.store import Store  # noqa: E402

BOT = "ClerkBot"
ADMIN = "Bench admin"


def cycle(store: Store, page: str, number: int) -> None:
    now = datetime.now(UTC)
    stamp = now.isoformat(timespec="seconds")
    records = [r for r in store.requests(page) if not r.archived_at]
    pending = store.pending_replies(page)
    revid = (store.page_revision(page) or 0) + 1
    ours = [r for r in records if r.key.startswith("cycle-")]
    received = [r for r in ours if r.state == State.RECEIVED]
    waiting = [r for r in ours if r.state == State.AWAITING_APPROVAL]
    with store.transaction():
        requester = f"Cycle user {number}"
        filed = store.add_request(
            page=page,
            key=f"cycle-{number}",
            heading=f"Account request: {requester}",
            requester=requester,
            subject=requester,
            type="account",
            fields={"type": "account", "purpose": "filed while the bridge is measured"},
            content_hash=f"cycle-{number}",
            intro_revid=revid,
            intro_timestamp=stamp,
            state=str(State.RECEIVED),
            detail={},
        )
        store.update_request(filed.id, progress_at=stamp)
        store.audit(requester, "filed", filed.id, revid=revid, key=filed.key)
        store.queue_reply(filed.id, str(State.RECEIVED), "{{ATS status|received}}")
        for record in received[:1]:
            store.last_reply(record.id)
            store.update_request(record.id, state=str(State.AWAITING_APPROVAL), progress_at=stamp)
            store.audit(BOT, "evaluated:awaiting-approval", record.id, revid=revid)
            store.queue_reply(record.id, str(State.AWAITING_APPROVAL), "{{ATS status|waiting}}")
        for record in waiting[:1]:
            store.decisions(record.id)
            store.add_decision(
                record.id,
                kind="approve",
                params={},
                wikitext="{{ATS approve}}",
                ordinal=0,
                revid=revid,
                actor=ADMIN,
                honoured=True,
                reason="",
            )
            store.update_request(record.id, state=str(State.APPROVED), progress_at=stamp)
            store.audit(BOT, "decision:approve", record.id, revid=revid, by=ADMIN)
            store.queue_reply(record.id, str(State.APPROVED), "{{ATS status|approved}}")
    queued = store.pending_replies(page)
    with store.transaction():  # after the page is saved
        store.mark_posted([r.id for r in queued], revid)
        lease.record_saved(store, page, now)
        store.set_page_revision(page, revid, "")
        store.audit(BOT, "saved", page=page, revid=revid, replies=len(queued) - len(pending))
    record_cycle(store, now)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store", type=Path)
    parser.add_argument("page")
    parser.add_argument("--every", type=float, default=2.0, help="seconds between cycles")
    args = parser.parse_args()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    store = Store(args.store)
    took: list[float] = []
    try:
        while not stop.is_set():
            started = time.perf_counter()
            cycle(store, args.page, len(took))
            took.append(time.perf_counter() - started)
            stop.wait(max(0.0, args.every - took[-1]))
    finally:
        store.close()
    median = statistics.median(took) * 1000 if took else 0.0
    longest = max(took, default=0.0) * 1000
    print(f"{len(took)} cycles, median {median:.0f} ms, longest {longest:.0f} ms", flush=True)


if __name__ == "__main__":
    main()
