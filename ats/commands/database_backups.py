"""`ats databases backup|restore`: the tool databases' backups (`databases/backups.py`
dumps and loads, `databases/dumpfiles.py` names and prunes).

`backup DIR` is what `deploy/systemd/ats-databases-backup.timer` runs daily as root:
a dump of every database of a tool or member, one file each, and the old files pruned.
`restore FILE` is an admin's decision, recorded in the audit log before anything
changes, as `drop` is: it puts a backup into a database of the same account, never over
an existing one without `--force`. Users, passwords and grants are never in a backup:
the reconciler makes them from the store (`ats restore`, then `ats databases reconcile
--fix`).
"""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from pathlib import Path

from ats.config import Config
from ats.failures import UsageError

RESTORED = "databases-restored"
KEEP = 7


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    backup = sub.add_parser(
        "backup",
        help="dump every tool's and member's database into DIR, one compressed file each",
        description="Dump every database of a tool or member (USER__*) into DIR with "
        "mariadb-dump --single-transaction, one file each, named for the account, the "
        "database and the time (mytool.s51234__data.20250301T031500Z.sql.gz), 0600, "
        "written under a hidden name and renamed once whole; then prune each database's "
        "files beyond the --keep newest and those older than --days (the newest of a "
        "database that exists is always kept). Users, passwords and grants are not backed "
        "up: the reconciler makes them from the store. Exit status 1 when a database could "
        "not be dumped (the others are). Runs as root on a host that reaches the server "
        "as [databases] admin_user.",
    )
    backup.add_argument("folder", metavar="DIR", type=Path, help="where the files go (0700)")
    backup.add_argument(
        "--keep",
        type=int,
        default=KEEP,
        metavar="N",
        help=f"files kept per database (default {KEEP}; 0: no count)",
    )
    backup.add_argument(
        "--days",
        type=float,
        default=0,
        metavar="DAYS",
        help="also remove files older than this many days (default 0: no age limit)",
    )
    backup.set_defaults(run=_backup, needs_config=True)
    restore = sub.add_parser(
        "restore",
        help="put a backup file back into a database of its account (audited)",
        description="Load FILE, written by `ats databases backup`, into the database it "
        "was taken from, or into --into DATABASE of the same account (USER__NAME). The file "
        "is read through first (whole, undamaged). Refused while the database exists unless "
        "--force, which drops it first (what it holds now is lost), and refused for an "
        "account the store does not know or whose database user is not made yet (run "
        "`ats databases reconcile --fix` first). Recorded in the audit log before anything "
        "changes. A restore that fails leaves no half database.",
    )
    restore.add_argument(
        "file", metavar="FILE", type=Path, help="a file `ats databases backup` wrote"
    )
    restore.add_argument("--into", metavar="DATABASE", help="another database of the account")
    restore.add_argument("--by", required=True, metavar="ADMIN", help="your wiki username")
    restore.add_argument("--force", action="store_true", help="replace an existing database")
    restore.set_defaults(run=_restore, needs_config=True)


def _backup(args: argparse.Namespace, config: Config) -> int:
    from ats.commands.database_access import admin_settings, reconciler
    from databases.backups import Client, back_up
    from databases.naming import owner_of_database

    if args.keep < 0 or args.days < 0:
        raise UsageError("--keep and --days must not be negative")
    with reconciler(config) as work:
        names = {account.user: account.name for account in work.accounts()}
        databases = work.server.databases()
    pairs = []
    for database in databases:
        owner = owner_of_database(database) or ""
        pairs.append((names.get(owner, owner), database))
    run = back_up(
        args.folder,
        pairs,
        Client(admin_settings(config)),
        keep=args.keep,
        max_age=timedelta(days=args.days) if args.days else None,
    )
    for path in run.cleared:
        print(f"removed {path}, left by a backup that did not finish")
    for written in run.written:
        print(f"{written.database}: {written.path} ({_size(written.size)})")
    for path in run.pruned:
        print(f"pruned {path}")
    for line in run.failed:
        print(f"not backed up: {line}", file=sys.stderr)
    print(
        f"{len(run.written)} of {len(pairs)} database(s) backed up into {args.folder}, "
        f"{len(run.pruned)} old file(s) pruned"
    )
    return 1 if run.failed else 0


def _restore(args: argparse.Namespace, config: Config) -> int:
    from ats.commands.database_access import (
        admin_settings,
        holding_databases_lease,
        reconciler,
    )
    from databases.backups import BackupError, Client, check_dump, load
    from databases.dumpfiles import parse
    from databases.naming import owner_of_database
    from policies.errors import Refusal

    source: Path = args.file
    named = parse(source.name)
    target = args.into or (named.database if named else "")
    if not target:
        raise UsageError(
            f"{source.name} does not say which database it holds (not a name `ats databases "
            "backup` gives, or one too long for a file): give --into DATABASE"
        )
    owner = owner_of_database(target)
    if owner is None:
        raise Refusal(
            f"{target!r} is not a database of a tool or member: name it USER__NAME "
            "(s51234__data), the account's own prefix"
        )
    if named and named.owner != owner:
        raise Refusal(
            f"{source.name} holds a database of {named.owner}, not of {owner}: a backup "
            f"goes back into its own account's databases ({named.owner}__*)"
        )
    with reconciler(config) as work:
        account = work.account(owner)
        if owner not in work.server.users():
            raise Refusal(
                f"{account.label} has no database user yet: run `ats databases reconcile "
                "--fix` first (users and grants come from the store, not from backups)"
            )
        check_dump(source)
        exists = target in work.server.databases(owner)
        if exists and not args.force:
            raise Refusal(
                f"{target} exists: give --force to replace it with {source} (what it holds "
                "now is lost; back it up first), or restore --into another name"
            )
        with holding_databases_lease(work.store):
            # The decision first: a restore cut short is on record too.
            work.store.audit(
                args.by,
                RESTORED,
                user=account.user,
                account=account.name,
                database=target,
                file=str(source),
                replaced=exists,
            )
            if exists:
                work.server.drop_database(target)
            work.server.create_database(target)
        try:
            load(source, target, Client(admin_settings(config)))
        except BackupError as error:
            # No half database: asked again, the restore starts anew.
            work.server.drop_database(target)
            raise BackupError(f"{error}; {target} was dropped again") from None
        except BaseException:
            work.server.drop_database(target)
            raise
    print(f"restored {source} into {target} of {account.label}")
    return 0


def _size(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB" if size >= 1024 * 1024 else f"{size} bytes"
