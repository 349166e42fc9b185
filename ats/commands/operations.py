"""`ats doctor`, `ats backup` and `ats restore`: checking a deployment, and copying the
store safely while the bot and the bridge write (`ats/doctor/`, `membership/backup.py`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ats.config import Config


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    commands.add_parser(
        "doctor",
        help="check the deployment: wiki, bot login, pages, templates, bridge, OAuth, "
        "directory, store, clock",
        description="One line per check, ok or FAIL with the fix; exit status 1 when any "
        "check failed. Reads only: nothing is changed on the wiki, in the directory or in "
        "the store.",
    ).set_defaults(run=_doctor, needs_config=True)
    backup = commands.add_parser(
        "backup",
        help="copy the store to FILE, safely while the bot and the bridge write",
        description="Copy the store into FILE with SQLite's online backup API: a consistent "
        "copy even while the bot, the bridge and the worker write. FILE is replaced. The "
        "tool databases are not in the store: `ats databases backup DIR` dumps them "
        "(deploy/systemd/ats-databases-backup.timer, daily).",
    )
    backup.add_argument("file", metavar="FILE", type=Path, help="the backup file to write")
    backup.set_defaults(run=_backup, needs_config=True)
    restore = commands.add_parser(
        "restore",
        help="replace the store with the backup FILE",
        description="Check FILE (an ats store, not newer than this version, undamaged) and "
        "copy it over the store, then bring it to the current schema. Refuses an existing "
        "store, and one a running process has open, unless --force.",
    )
    restore.add_argument("file", metavar="FILE", type=Path, help="the backup file to restore")
    restore.add_argument(
        "--force", action="store_true", help="replace an existing (even open) store"
    )
    restore.set_defaults(run=_restore, needs_config=True)


def _doctor(args: argparse.Namespace, config: Config) -> int:
    from ats import doctor

    return doctor.report(doctor.run(config), sys.stdout)


def _backup(args: argparse.Namespace, config: Config) -> int:
    from membership.backup import backup

    print(backup(config.store_path, args.file).summary("backed up to"))
    return 0


def _restore(args: argparse.Namespace, config: Config) -> int:
    from membership.backup import restore

    print(restore(args.file, config.store_path, force=args.force).summary("restored"))
    return 0
