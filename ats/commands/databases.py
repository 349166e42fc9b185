"""`ats databases reconcile|serve|rotate|drop|sizes|backup|restore`: the tool databases (a
MariaDB user and `~/replica.my.cnf` for every tool and member with a shell;
docs/databases.md).

`serve` is the service the host holding the homes runs as root
(deploy/systemd/ats-databases.service): a pass every `[databases] interval` seconds (and
after one, every `sizes_interval`, the databases' sizes measured into the store),
each while holding the store's lease `databases`, which it gives up between passes so
that an admin's `rotate`, `drop` or `reconcile --fix` takes its turn; two copies at once
take turns too. `reconcile` says what differs and, with `--fix`, makes one pass.
`rotate` and `drop` are admins' decisions, recorded in the audit log. `backup` and
`restore` are in `ats/commands/database_backups.py`; both reach the server and the store
through `ats/commands/database_access.py`.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from ats.commands import database_backups
from ats.commands.database_access import databases_lease, holding_databases_lease, reconciler
from ats.commands.provision import StopSignal
from ats.config import Config
from ats.failures import UsageError

log = logging.getLogger(__name__)

ROTATED, DROPPED = "database-password-rotated", "databases-dropped"


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    databases = commands.add_parser(
        "databases", help="tool databases: a MariaDB user and ~/replica.my.cnf per account"
    )
    sub = databases.add_subparsers(
        dest="databases_command", metavar="DATABASES_COMMAND", required=True
    )
    reconcile = sub.add_parser(
        "reconcile",
        help="say what differs between the store and the database server (--fix: repair)",
        description="One line per difference between what the store says and the database "
        "server and homes hold: a user missing, locked or unlocked against the account's "
        "standing, a grant missing or one beyond the account's own databases, a "
        "replica.my.cnf missing, wrong or not working. Exit status 1 when there is any. "
        "With --fix, take the lease and repair each (a working password is kept; a file "
        "that does not work gets a new one). Runs as root on the host holding the homes.",
    )
    reconcile.add_argument("--fix", action="store_true", help="repair every difference")
    _server_options(reconcile)
    reconcile.set_defaults(run=_reconcile, needs_config=True)
    serve = sub.add_parser(
        "serve",
        help="keep the database users and credentials files in step with the store",
        description="A reconcile pass with repairs every [databases] interval seconds, "
        "each while holding the lease (a second copy takes turns), one line per repair; "
        "every [databases] sizes_interval seconds, the databases' sizes measured into the "
        "store, and the holders of an account that went over size_limit_mb mailed. "
        "Runs as root on the host holding the homes. Stops on SIGTERM.",
    )
    serve.add_argument("--interval", type=float, help="instead of [databases] interval")
    _server_options(serve)
    serve.set_defaults(run=_serve, needs_config=True)
    rotate = sub.add_parser(
        "rotate",
        help="give an account a new database password (audited)",
        description="A new password for the account's database user; its replica.my.cnf "
        "works at every moment (the new file is in place before the old password stops "
        "working, after --grace seconds). ACCOUNT is a tool's name, a member's shell name "
        "or a database user (s51234).",
    )
    rotate.add_argument("account", metavar="ACCOUNT")
    rotate.add_argument("--by", required=True, metavar="ADMIN", help="your wiki username")
    rotate.add_argument(
        "--grace",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="how long both passwords work, for clients that read the old file (default 5)",
    )
    rotate.set_defaults(run=_rotate, needs_config=True)
    drop = sub.add_parser(
        "drop",
        help="drop every database of an account (asks for confirmation; audited)",
        description="Drop every database named USER__* of the account (nothing else: its "
        "user and file stay while the store knows the account). Refused while the account "
        "is active (a tool enabled, a member not suspended) unless --force. Asks to type "
        "the account's name unless --yes.",
    )
    drop.add_argument("account", metavar="ACCOUNT")
    drop.add_argument("--by", required=True, metavar="ADMIN", help="your wiki username")
    drop.add_argument("--yes", action="store_true", help="do not ask for the name")
    drop.add_argument("--force", action="store_true", help="even while the account is active")
    drop.set_defaults(run=_drop, needs_config=True)
    sizes = sub.add_parser(
        "sizes",
        help="each account's databases and their sizes",
        description="Every account's databases with their size, and the accounts over "
        "[databases] size_limit_mb (exit status 1 when any is).",
    )
    sizes.set_defaults(run=_sizes, needs_config=True)
    database_backups.add_commands(sub)


def _server_options(parser: argparse.ArgumentParser) -> None:
    """[databases] given on the command line instead (a dev login host's own server)."""
    parser.add_argument(
        "--admin-socket", metavar="PATH", help="instead of [databases] admin_socket"
    )
    parser.add_argument("--client-host", metavar="HOST", help="instead of [databases] client_host")
    parser.add_argument(
        "--client-port", type=int, metavar="PORT", help="instead of [databases] client_port"
    )


def _with_server(args: argparse.Namespace, config: Config) -> Config:
    given = {
        key: value
        for key, value in (
            ("admin_socket", args.admin_socket),
            ("client_host", args.client_host),
            ("client_port", args.client_port),
        )
        if value is not None and value != ""
    }
    return replace(config, databases=replace(config.databases, **given))


# -- the wiring ----------------------------------------------------------------------


# -- reconcile and serve -------------------------------------------------------------


def _reconcile(args: argparse.Namespace, config: Config) -> int:
    from databases.plan import lines

    config = _with_server(args, config)
    with reconciler(config) as work:
        steps, notes = work.drift()
        drift = lines(steps)
        if not args.fix or not drift:
            for line in drift:
                print(line)
            for note in notes:
                print(note.line)
            if not drift:
                print("no drift: every account's database user and replica.my.cnf match the store")
            return 1 if drift else 0
        with holding_databases_lease(work.store) as lease:
            done = work.converge(lease)
    for line in done.fixed:
        print(f"fixed: {line}")
    for line in done.failed:
        print(f"not fixed: {line}", file=sys.stderr)
    for line in done.notes:
        print(line)
    print(f"{len(done.fixed) + len(done.failed)} drift(s), {len(done.fixed)} fixed")
    return 1 if done.failed else 0


def _serve(args: argparse.Namespace, config: Config) -> int:
    from databases.server import ServerUnavailable
    from membership.lease import LeaseLost
    from policies.errors import Refusal

    logging.basicConfig(level=logging.INFO, format="databases: %(message)s")
    config = _with_server(args, config)
    interval = args.interval or config.databases.interval
    if interval <= 0:
        raise UsageError("--interval must be a positive number of seconds")
    measure = _sizes_measurer(config)
    stop = StopSignal().install()
    print(f"databases: a pass every {interval:g} s", file=sys.stderr, flush=True)
    quiet = ""  # the last failure said: said again only when it changes
    while not stop.is_set():
        try:
            with reconciler(config) as work:
                quiet = ""
                _passes(work, stop, interval, measure)
        except (ServerUnavailable, LeaseLost, Refusal) as error:
            said = " ".join(str(error).split())
            if said != quiet:
                log.warning("%s (trying again every %g s)", said, interval)
                quiet = said
            stop.wait(interval)
    print(f"databases: stopped on {stop.by or 'request'}", file=sys.stderr)
    return 0


def _passes(work: Any, stop: StopSignal, interval: float, measure: Callable[[Any], None]) -> None:
    """Pass after pass on one connection, each holding the lease, until stopped; the
    sizes measured after a pass when they are due."""
    lease = databases_lease(work.store)
    while not stop.is_set():
        holder = lease.try_acquire()
        if holder is None:
            try:
                done = work.converge(lease)
                lease.renew()
                measure(work)
            finally:
                lease.release()
            for line in done.fixed:
                log.info("fixed: %s", line)
            for line in done.failed:
                log.warning("not fixed: %s", line)
        stop.wait(interval)


def _sizes_measurer(config: Config) -> Callable[[Any], None]:
    """Measures the databases' sizes into the store when `[databases] sizes_interval`
    has passed since the last measurement, and mails a crossing of the limit."""
    import pymysql

    from databases.sizes import due, measure
    from membership.storefaults import StoreError
    from runtime.database_mail import notices

    section = config.databases
    notice = notices(config.mail)

    def measured(work: Any) -> None:
        if not due(work.store, section.sizes_interval):
            return
        try:
            found = measure(work.store, work.server, work.accounts(), section.size_limit_mb, notice)
        except (pymysql.err.MySQLError, StoreError) as error:
            said = " ".join(str(error).split())
            log.warning("sizes not measured: %s (tried again after the next pass)", said)
            return
        for line in found.lines:
            log.info("%s", line)

    return measured


# -- what admins ask -----------------------------------------------------------------


def _rotate(args: argparse.Namespace, config: Config) -> int:
    if args.grace < 0:
        raise UsageError("--grace must not be negative")
    with reconciler(config) as work:
        account = work.account(args.account)
        with holding_databases_lease(work.store) as lease:
            # The decision first: a rotation cut short is on record too.
            work.store.audit(args.by, ROTATED, user=account.user, account=account.name)
            said = work.rotate(account, lease, grace=args.grace)
    print(said)
    return 0


def _drop(args: argparse.Namespace, config: Config) -> int:
    from policies.errors import Refusal

    with reconciler(config) as work:
        account = work.account(args.account)
        if account.active and not args.force:
            raise Refusal(
                f"{account.label} is active: disable the tool or suspend the member first, "
                "or give --force"
            )
        names = work.databases_of(account)
        if not names:
            print(f"{account.label} has no databases: nothing dropped")
            return 0
        print(f"{account.label}: {len(names)} database(s): {', '.join(names)}")
        if not args.yes:
            print(f"Type {account.name} to drop them all: ", end="", flush=True)
            answer = sys.stdin.readline().strip()
            if answer != account.name:
                raise Refusal(
                    f"not confirmed ({answer!r} is not {account.name!r}): nothing dropped"
                )
        with holding_databases_lease(work.store):
            # The decision first: a drop cut short is on record, and asked again finishes.
            work.store.audit(
                args.by, DROPPED, user=account.user, account=account.name, databases=names
            )
            dropped = work.drop(account, names)
    print(f"dropped {len(dropped)} database(s) of {account.label}")
    return 0


def _sizes(args: argparse.Namespace, config: Config) -> int:
    from databases.usage import MB, megabytes, over_limit

    limit = config.databases.size_limit_mb * MB
    with reconciler(config) as work:
        by_user = {account.user: account for account in work.accounts()}
        sizes = work.server.sizes()
    over = []
    for user in sorted(sizes):
        label = by_user[user].label if user in by_user else f"{user} (no account in the store)"
        total = sum(sizes[user].values())
        print(f"{label}: {megabytes(total)}")
        for name, size in sorted(sizes[user].items()):
            print(f"  {name}: {megabytes(size)}")
        if over_limit(total, limit):
            over.append(f"{label}: {megabytes(total)}, over the limit of {megabytes(limit)}")
    if not sizes:
        print("no account has a database")
    for line in over:
        print(line)
    return 1 if over else 0
