"""The data behind `ats report`: the queue, the members' standing, and the money.

`build_report` reads the store once and returns a `Report`: open requests by state and
the median days from filing to an honoured approve or decline (as on the public status
page), how many members are paid, waived, in their grace period or lapsed (members are
the subjects of requests that reached `done`), and the ledger's figures — what the
chapter holds, the waiver fund, what a month costs (the last 365 days' expenses / 12
unless given), the runway in whole months, the surplus beyond the reserve and the
waivers waiting for the fund. `render_text` and `to_csv` write it; amounts stay whole
minor units until they are formatted. No waiver reason or identification method is read.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from membership import ledger
from membership.states import State
from membership.status import public_status
from membership.store import Store
from policies.fees import STANDINGS, FeePolicy, standing
from policies.money import format_minor
from policies.usernames import canonical_username


@dataclass(frozen=True)
class Report:
    generated_at: str
    currency: str
    open_count: int
    open_by_state: dict[str, int]
    decided_count: int
    median_days_to_decision: float | None  # a duration, not money
    standing: dict[str, int]  # paid | waived | grace | lapsed → members
    lapsed: list[str]  # members to remind or suspend
    grace: list[str]
    balance: int  # minor units: operating + fund
    operating: int
    fund: int
    monthly_cost: int
    runway_months: int | None  # None: nothing is spent
    surplus: int
    income_year: int  # payments less refunds, last 365 days
    expenses_year: int
    waivers_year: int  # paid by the fund, last 365 days
    queued_waivers: int
    queued_amount: int
    other_currencies: int = 0  # ledger entries left out: not in the fee's currency
    notes: list[str] = field(default_factory=list)


def build_report(
    store: Store, policy: FeePolicy, now: datetime, *, monthly_cost: int | None = None
) -> Report:
    today = now.date()
    queue = public_status(store, now)
    every = store.ledger_entries()
    entries = [e for e in every if e.currency == policy.currency]
    standings = member_standings(store, policy, entries, [today])[0]
    cost = ledger.monthly_cost(entries, today) if monthly_cost is None else monthly_cost
    year = [e for e in entries if today - timedelta(days=365) < e.on <= today]
    queued = [q for q in store.queued_waivers() if q.currency == policy.currency]
    notes = []
    if len(every) != len(entries):
        notes.append(
            f"{len(every) - len(entries)} ledger entries in other currencies than "
            f"{policy.currency} are not counted; convert them by hand."
        )
    return Report(
        generated_at=now.isoformat(timespec="seconds"),
        currency=policy.currency,
        open_count=queue["open_count"],
        open_by_state=dict(sorted(queue["by_state"].items())),
        decided_count=queue["decided_count"],
        median_days_to_decision=queue["median_days_to_decision"],
        standing={s: len(names) for s, names in standings.items()},
        lapsed=standings["lapsed"],
        grace=standings["grace"],
        balance=ledger.balance(entries),
        operating=ledger.operating_balance(entries),
        fund=ledger.fund_balance(entries),
        monthly_cost=cost,
        runway_months=ledger.runway_months(entries, cost),
        surplus=ledger.surplus(entries, cost, policy.reserve_months),
        income_year=_sum(year, "payment") - _sum(year, "refund"),
        expenses_year=_sum(year, "expense"),
        waivers_year=_sum(year, "waiver"),
        queued_waivers=len(queued),
        queued_amount=sum(q.amount for q in queued),
        other_currencies=len(every) - len(entries),
        notes=notes,
    )


def member_standings(
    store: Store, policy: FeePolicy, entries: list[ledger.LedgerEntry], days: list[date]
) -> list[dict[str, list[str]]]:
    """For each day, the members (subjects of requests that reached `done`) by standing."""
    members = sorted(
        {
            canonical_username(r.subject or r.requester)
            for r in store.request_summaries(state=State.DONE)
        }
    )
    granted: dict[str, list[date]] = {}
    for w in store.waivers(status="granted"):  # all members' at once, not one query each
        moment = datetime.fromisoformat(w.confirmed_at or w.decided_at or w.requested_at)
        granted.setdefault(w.username, []).append(moment.date())
    known = [
        (member, ledger.net_payments(entries, member), granted.get(member, []))
        for member in members
    ]
    out = []
    for day in days:
        standings: dict[str, list[str]] = {s: [] for s in STANDINGS}
        for member, payments, waived_on in known:
            standings[standing(policy, payments, waived_on, day)].append(member)
        out.append(standings)
    return out


def rows(report: Report) -> list[tuple[str, str, str]]:
    """(section, item, value): the report flattened, money formatted in its currency."""
    money = _money(report)
    median = report.median_days_to_decision
    out = [
        ("report", "generated_at", report.generated_at),
        ("report", "currency", report.currency),
        ("queue", "open", str(report.open_count)),
        *(("queue", f"state:{s}", str(n)) for s, n in report.open_by_state.items()),
        ("queue", "decided", str(report.decided_count)),
        ("queue", "median_days_to_decision", "" if median is None else f"{median:.1f}"),
        *(("members", s, str(n)) for s, n in report.standing.items()),
        *(("lapsed", name, "") for name in report.lapsed),
        *(("grace", name, "") for name in report.grace),
        ("money", "balance", money(report.balance)),
        ("money", "operating", money(report.operating)),
        ("money", "fund", money(report.fund)),
        ("money", "monthly_cost", money(report.monthly_cost)),
        (
            "money",
            "runway_months",
            "" if report.runway_months is None else str(report.runway_months),
        ),
        ("money", "surplus_beyond_reserve", money(report.surplus)),
        ("money", "income_last_365_days", money(report.income_year)),
        ("money", "expenses_last_365_days", money(report.expenses_year)),
        ("money", "waivers_paid_last_365_days", money(report.waivers_year)),
        ("money", "waivers_queued", str(report.queued_waivers)),
        ("money", "waivers_queued_amount", money(report.queued_amount)),
    ]
    return out


def to_csv(report: Report) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("section", "item", "value"))
    writer.writerows(rows(report))
    return buffer.getvalue()


def render_text(report: Report) -> str:
    money = _money(report)
    c = report.currency
    median = report.median_days_to_decision
    states = ", ".join(f"{s} {n}" for s, n in report.open_by_state.items()) or "none"
    runway = (
        "no expenses recorded"
        if report.runway_months is None
        else f"{report.runway_months} months at {money(report.monthly_cost)} {c} a month"
    )
    lines = [
        f"American Toolserver report, {report.generated_at}",
        "",
        "Queue",
        f"  open requests: {report.open_count} ({states})",
        f"  decided: {report.decided_count}; median days to a decision: "
        + ("-" if median is None else f"{median:.1f}"),
        "",
        "Members",
        "  " + ", ".join(f"{s} {n}" for s, n in report.standing.items()),
    ]
    if report.grace:
        lines.append("  in grace (remind them): " + ", ".join(report.grace))
    if report.lapsed:
        lines.append("  lapsed (suspend after notice): " + ", ".join(report.lapsed))
    lines += [
        "",
        f"Money ({c})",
        f"  held: {money(report.balance)} (operating {money(report.operating)}, "
        f"waiver fund {money(report.fund)})",
        f"  last 365 days: income {money(report.income_year)}, expenses "
        f"{money(report.expenses_year)}, waivers paid by the fund {money(report.waivers_year)}",
        f"  runway: {runway}",
        f"  surplus beyond the reserve: {money(report.surplus)}",
        f"  waivers waiting for the fund: {report.queued_waivers} ({money(report.queued_amount)})",
        *(f"  note: {note}" for note in report.notes),
    ]
    return "\n".join(lines) + "\n"


def _sum(entries: list[ledger.LedgerEntry], kind: str) -> int:
    return sum(e.amount for e in entries if e.kind == kind)


def _money(report: Report) -> Callable[[int], str]:
    return lambda amount: format_minor(amount, report.currency)
