"""`ats members check` and `ats purge`: members' standing on the wiki, and forgetting the
private data whose retention period is over."""

from __future__ import annotations

import argparse
import contextlib

from ats.config import Config


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    members = commands.add_parser("members", help="members' standing on the wiki")
    members_commands = members.add_subparsers(
        dest="members_command", metavar="MEMBERS_COMMAND", required=True
    )
    members_commands.add_parser(
        "check",
        help="re-check every member for global locks and blocks (safe to run daily)",
        description="Ask the wiki about every member (subjects of done requests, owners of "
        "person accounts): with CentralAuth, whether they are globally locked or blocked on "
        "any attached wiki; without it, whether they are blocked on this wiki. Each change "
        "is recorded once in the audit log and listed on the admins' desk under 'Members to "
        "review'. It edits nothing on the wiki and suspends nobody: an admin decides. A "
        "member the wiki could not be asked about keeps their previous standing. Safe to "
        "run daily; `ats renewal run` also runs it.",
    ).set_defaults(run=members_check, needs_config=True)


def add_purge_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    purge = commands.add_parser(
        "purge",
        help="forget private data whose retention period is over",
        description="Apply policies/retention.toml (explained in policies/privacy.md): waiver "
        "reasons, identification methods, sessions, login attempts, people whose requests "
        "all ended long ago. Payments and the ledger stay. Safe to run daily.",
    )
    purge.add_argument(
        "--dry-run", action="store_true", help="count what would be forgotten; change nothing"
    )
    purge.set_defaults(run=_purge, needs_config=True)


def members_check(args: argparse.Namespace, config: Config) -> int:
    from ats.wiring import check_members

    print(check_members(config).summary())
    return 0


def _purge(args: argparse.Namespace, config: Config) -> int:
    from membership.retention import purge
    from membership.store import Store

    with contextlib.closing(Store(config.store_path)) as store:
        print(purge(store, dry_run=args.dry_run).summary())
    return 0
