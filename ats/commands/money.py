"""`ats report` and `ats payments import`: the queue's figures, members' fees and the fund."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from ats.config import Config
from ats.failures import UsageError


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    report = commands.add_parser(
        "report",
        help="queue, timings, members and the waiver fund",
        description="The open queue by state and the median days to a decision; members "
        "paid, waived, in their grace period or lapsed; what the chapter holds, the waiver "
        "fund, the runway and the surplus beyond the reserve.",
    )
    report.add_argument(
        "--csv",
        metavar="FILE",
        help="also write the report as CSV to FILE ('-': only CSV, to stdout)",
    )
    report.add_argument(
        "--monthly-cost",
        metavar="AMOUNT",
        help="monthly operating cost, e.g. 40.00 (default: the last 365 days' expenses / 12)",
    )
    report.set_defaults(run=_report, needs_config=True)


def add_payments_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    payments = commands.add_parser("payments", help="membership fee payments")
    payments_commands = payments.add_subparsers(
        dest="payments_command", metavar="PAYMENTS_COMMAND", required=True
    )
    import_csv = payments_commands.add_parser(
        "import",
        help="import a payment processor's CSV export",
        description="The format is in docs/payments-csv.md. Importing the same file again "
        "changes nothing; rows for no known requester and malformed rows are listed with "
        "their line numbers (exit status 1), the others imported.",
    )
    import_csv.add_argument("file", metavar="FILE", help="the CSV file")
    import_csv.add_argument(
        "--by", required=True, metavar="ADMIN", help="who records them (your wiki username)"
    )
    import_csv.set_defaults(run=_payments_import, needs_config=True)


def _report(args: argparse.Namespace, config: Config) -> int:
    from datetime import UTC, datetime

    from membership.report import build_report, render_text, to_csv
    from membership.store import Store
    from policies.fees import load_fees
    from policies.money import MoneyError, to_minor

    fees = load_fees()
    cost = None
    if args.monthly_cost is not None:
        try:
            cost = to_minor(args.monthly_cost, fees.currency)
        except MoneyError as error:
            raise UsageError(f"--monthly-cost: {error}") from None
    with contextlib.closing(Store(config.store_path)) as store:
        report = build_report(store, fees, datetime.now(UTC), monthly_cost=cost)
    if args.csv == "-":
        sys.stdout.write(to_csv(report))
        return 0
    print(render_text(report), end="")
    if args.csv:
        try:
            Path(args.csv).write_text(to_csv(report), "utf-8")
        except OSError as error:
            raise UsageError(f"{args.csv}: cannot write it: {error.strerror}") from None
        print(f"CSV written to {args.csv}")
    return 0


def _payments_import(args: argparse.Namespace, config: Config) -> int:
    from membership import progress
    from membership.payments_csv import import_payments
    from membership.store import Store
    from policies.fees import load_fees
    from policies.terms import load_terms
    from policies.usernames import canonical_username

    fees = load_fees()
    with contextlib.closing(Store(config.store_path)) as store:
        admin = canonical_username(args.by)
        try:
            report = import_payments(store, Path(args.file), admin, policy=fees)
        except (OSError, UnicodeDecodeError) as error:
            raise UsageError(f"{args.file}: cannot read it as UTF-8 text: {error}") from None
        version = load_terms().version
        for member in report.members:  # their fee gate may have passed
            progress.advance(store, member, admin, terms_version=version, fees=fees)
    print(report.summary())
    return 0 if report.ok else 1
