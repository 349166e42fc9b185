"""`ats members check|suspend|restore` and `ats purge`: members' standing on the wiki, an
admin's suspension of a member's account, and forgetting the private data whose retention
period is over."""

from __future__ import annotations

import argparse
import contextlib
import sys

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
    suspend = members_commands.add_parser(
        "suspend",
        help="suspend a member's shell account (abuse, or at their own request)",
        description="Record the decision and queue the member's suspend job (`ats provision "
        "run` locks the account in the directory; a suspended maintainer loses `become`). "
        "The reason stays private to the admins: it is never written on the wiki nor shown "
        "to the member. Asking again for a suspended member changes nothing.",
    )
    suspend.add_argument("wiki_user", metavar="WIKIUSER", help="the member's wiki username")
    suspend.add_argument("--reason", required=True, metavar="TEXT", help="why (kept private)")
    suspend.add_argument(
        "--by", required=True, metavar="ADMIN", help="who decides it (your wiki username)"
    )
    suspend.set_defaults(run=_suspend, needs_config=True)
    restore = members_commands.add_parser(
        "restore",
        help="restore a member's account an admin suspended",
        description="Record the decision and queue the member's restore job. A member "
        "suspended because their membership lapsed is restored by `ats renewal run` once "
        "they paid or got a waiver. Asking again for a restored member changes nothing.",
    )
    restore.add_argument("wiki_user", metavar="WIKIUSER", help="the member's wiki username")
    restore.add_argument(
        "--by", required=True, metavar="ADMIN", help="who decides it (your wiki username)"
    )
    restore.set_defaults(run=_restore, needs_config=True)


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


def _suspend(args: argparse.Namespace, config: Config) -> int:
    return _suspension(args, config, "suspend")


def _restore(args: argparse.Namespace, config: Config) -> int:
    return _suspension(args, config, "restore")


def _suspension(args: argparse.Namespace, config: Config, kind: str) -> int:
    from membership import suspensions
    from membership.store import Store
    from policies.usernames import canonical_username

    member, admin = canonical_username(args.wiki_user), canonical_username(args.by)
    with contextlib.closing(Store(config.store_path)) as store:
        try:
            if kind == "suspend":
                job = suspensions.suspend(store, member, args.reason, admin)
            else:
                job = suspensions.restore(store, member, admin)
        except suspensions.SuspensionRefused as refused:
            print(f"ats: {refused}", file=sys.stderr)
            return 1
    done = "suspended" if kind == "suspend" else "restored"
    print(
        f"{member}: {done} by {admin}; job #{job.id} queued ({kind}), `ats provision run` does it"
    )
    return 0


def _purge(args: argparse.Namespace, config: Config) -> int:
    from membership.retention import purge
    from membership.store import Store

    with contextlib.closing(Store(config.store_path)) as store:
        print(purge(store, dry_run=args.dry_run).summary())
    return 0
