"""The admins' chart data: month-ends and the fund's balance over time."""

from __future__ import annotations

from datetime import date

from membership.history import fund_series, month_ends
from membership.ledger import LedgerEntry


def test_month_ends_end_today_and_go_back_a_year() -> None:
    days = month_ends(date(2026, 3, 15))
    assert len(days) == 12
    assert days[-1] == date(2026, 3, 15)
    assert days[-2] == date(2026, 2, 28)
    assert days[0] == date(2025, 4, 30)


def test_fund_series_counts_only_what_happened_by_each_day() -> None:
    entries = [
        LedgerEntry("payment", 50_00, "USD", date(2026, 1, 5), member="Bob"),
        LedgerEntry("transfer", 30_00, "USD", date(2026, 1, 20)),
        LedgerEntry("waiver", 20_00, "USD", date(2026, 2, 3), member="Alice", waiver_id=1),
    ]
    days = [date(2025, 12, 31), date(2026, 1, 31), date(2026, 2, 28)]
    assert fund_series(entries, days) == [0, 30_00, 10_00]
