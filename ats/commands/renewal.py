"""`ats renewal run`: the yearly renewal's reminders, suspensions and restores, then the
members' re-check."""

from __future__ import annotations

import argparse

from ats.commands.members import members_check
from ats.config import Config
from ats.failures import fail, known_failure


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    renewal = commands.add_parser("renewal", help="the yearly membership renewal")
    renewal_commands = renewal.add_subparsers(
        dest="renewal_command", metavar="RENEWAL_COMMAND", required=True
    )
    renewal_run = renewal_commands.add_parser(
        "run",
        help="post due renewal reminders; queue suspensions and restores",
        description="Post each member's due renewal reminder (policies/fees.toml "
        "remind_days_before) on their user talk page, once per year and stage, except where "
        "{{ATS no reminders}} or {{bots}}/{{nobots}} says no; queue a suspend job for members "
        "lapsed after the grace period and a restore job for suspended members who renewed "
        "(`ats provision run` carries them out). Then run `ats members check` (not with "
        "--dry-run). Safe to run daily.",
    )
    renewal_run.add_argument(
        "--dry-run", action="store_true", help="say what would be done; change nothing"
    )
    renewal_run.set_defaults(run=_renewal_run, needs_config=True)


def _renewal_run(args: argparse.Namespace, config: Config) -> int:
    from ats.wiring import run_renewal

    report = run_renewal(config, dry_run=args.dry_run)
    print(report.summary(), flush=True)
    status = 1 if report.errors else 0
    if args.dry_run:  # the check records what it finds: not part of a dry run
        return status
    # The renewal's own result is printed and kept whatever happens to the check.
    try:
        return max(status, members_check(args, config))
    except Exception as error:  # noqa: BLE001 - a known failure gets one line, like main's
        known = known_failure(error, config)
        if known is None:
            raise
        fail(args, ValueError(f"members check: {' '.join(str(known).split())}"), 1)
        return 1
