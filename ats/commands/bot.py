"""`ats bot run`, `ats bot watch` and `ats wiki install-templates`: the clerk on the wiki."""

from __future__ import annotations

import argparse
import signal
import sys
import time
import traceback
from collections.abc import Callable

from ats.commands.arguments import positive, wait_argument
from ats.config import Config
from ats.failures import UsageError, known_failure


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    bot = commands.add_parser("bot", help="the on-wiki clerk").add_subparsers(
        dest="bot_command", metavar="BOT_COMMAND", required=True
    )
    run = bot.add_parser(
        "run",
        help="clerk cycles on the request page",
        description="Read the request page, answer new and changed requests in one edit.",
    )
    run.add_argument("--once", action="store_true", help="run one cycle and exit")
    run.add_argument(
        "--dry-run",
        action="store_true",
        help="print the diff the cycle would save; save and record nothing",
    )
    run.add_argument(
        "--interval",
        type=float,
        default=30.0,
        help="seconds between cycles without --once (default 30)",
    )
    wait_argument(run)
    run.set_defaults(run=_bot_run, needs_config=True)
    watch = bot.add_parser(
        "watch",
        help="follow the request page and answer within seconds (runs until stopped)",
        description="Run a clerk cycle at start, then whenever the request page or the "
        "kill-switch page changes, and at least every --full-cycle seconds. Changes are "
        "found by polling recent changes (one API request per poll) or, with --stream or "
        "[wiki] stream_url, by following Wikimedia EventStreams (falling back to polling "
        "when the stream keeps failing). Where it stopped reading is kept in the store, so "
        "a restart misses nothing. SIGTERM or Ctrl-C stops it cleanly.",
    )
    watch.add_argument(
        "--poll",
        type=positive,
        default=2.0,
        metavar="SECONDS",
        help="seconds between two recent-changes polls (default 2)",
    )
    watch.add_argument(
        "--full-cycle",
        type=positive,
        default=600.0,
        metavar="SECONDS",
        help="run a full clerk cycle at least this often, even without edits, for "
        "time-based work such as expiry (default 600)",
    )
    watch.add_argument(
        "--stream",
        metavar="URL",
        help="EventStreams recentchange URL to follow instead of polling "
        "(default: [wiki] stream_url; empty means poll)",
    )
    wait_argument(watch)
    watch.set_defaults(run=_bot_watch, needs_config=True)

    wiki = commands.add_parser("wiki", help="set up the wiki side").add_subparsers(
        dest="wiki_command", metavar="WIKI_COMMAND", required=True
    )
    install = wiki.add_parser(
        "install-templates",
        help="write the bundled on-wiki templates to the wiki as the bot",
        description="Create or update Template:ATS request, its preload and documentation, "
        "Template:ATS status and the decision templates.",
    )
    install.set_defaults(run=_install_templates, needs_config=True)


def _bot_run(args: argparse.Namespace, config: Config) -> int:
    from ats import wiring

    if args.dry_run and not args.once:
        raise UsageError("--dry-run needs --once")
    kill_at = wiring.checkpoint_from_env()
    if args.dry_run:  # saves and records nothing: no need to keep other clerks out
        clerk = wiring.clerk(config, checkpoint=kill_at)
        try:
            report = clerk.run_once(dry_run=True)
        finally:
            clerk.store.close()
        print(report.diff or "(no change)", end="" if report.diff else "\n")
        print(report.summary())
        return 0
    from membership.lease import LeaseLost

    lease = wiring.clerk_lease(config)
    try:
        stop = _stop_flag()
        lease.acquire(args.wait)
        try:
            clerk = wiring.clerk(config, checkpoint=kill_at, lease=lease)
            if args.once:
                print(clerk.run_once().summary())
                return 0
            while not stop():
                try:
                    print(clerk.run_once().summary(), flush=True)
                except LeaseLost:  # another clerk has the page now: stop, do not fight over it
                    raise
                except Exception as error:  # noqa: BLE001 - a known failure waits for the next cycle
                    known = known_failure(error, config)
                    if known is None:
                        raise
                    if args.debug:
                        traceback.print_exc()
                    print(
                        f"ats: {known}; next cycle in {args.interval:g} s",
                        file=sys.stderr,
                        flush=True,
                    )
                _sleep(args.interval, stop, lease.renew)
            return 0
        finally:
            lease.release()
    finally:
        lease.store.close()


def _bot_watch(args: argparse.Namespace, config: Config) -> int:
    from ats import wiring
    from bot.watch import StopSignal

    stop = StopSignal()
    stop.install()
    stream = config.wiki.stream_url if args.stream is None else args.stream
    lease = wiring.clerk_lease(config)
    try:
        watcher = wiring.watcher(
            config,
            stop,
            poll=args.poll,
            full_cycle=args.full_cycle,
            stream_url=stream,
            wait=args.wait,
            lease=lease,
        )
        return watcher.run()
    finally:
        lease.store.close()


def _install_templates(args: argparse.Namespace, config: Config) -> int:
    from ats import wiring

    changed = wiring.install_templates(config)
    for title, did_change in changed:
        print(f"{'updated' if did_change else 'unchanged'}: {title}")
    return 0


def _stop_flag() -> Callable[[], bool]:
    stopping = {"now": False}

    def handler(signum: int, frame: object) -> None:
        stopping["now"] = True

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return lambda: stopping["now"]


def _sleep(seconds: float, stop: Callable[[], bool], meanwhile: Callable[[], None]) -> None:
    deadline = time.monotonic() + seconds
    while not stop() and time.monotonic() < deadline:
        meanwhile()
        time.sleep(max(0.0, min(0.2, deadline - time.monotonic())))
