"""The fund and the members over time, for the admins' chart: pure sums over the store.

`month_ends` picks the days to plot (the last day of each of the past months, then
today); `fund_series` is the waiver fund's balance at the end of each of those days
(in minor units of the fee's currency) and `standing_series` how many members were
paid, waived, in grace or lapsed on each, by the same rules as `membership.report`.
"""

from __future__ import annotations

from datetime import date, timedelta

from membership import ledger
from membership.report import member_standings
from membership.store import Store
from policies.fees import STANDINGS, FeePolicy


def month_ends(today: date, months: int = 12) -> list[date]:
    """The last day of each of the `months - 1` months before this one, then `today`."""
    days = [today]
    day = today.replace(day=1) - timedelta(days=1)
    while len(days) < months:
        days.append(day)
        day = day.replace(day=1) - timedelta(days=1)
    return sorted(days)


def fund_series(entries: list[ledger.LedgerEntry], days: list[date]) -> list[int]:
    return [ledger.fund_balance(e for e in entries if e.on <= day) for day in days]


def standing_series(
    store: Store, policy: FeePolicy, entries: list[ledger.LedgerEntry], days: list[date]
) -> dict[str, list[int]]:
    by_day = member_standings(store, policy, entries, days)
    return {s: [len(standings[s]) for standings in by_day] for s in STANDINGS}
