"""The yearly renewal: covered-until dates, reminder stages, lapse and restore decisions,
the store's memory of reminders and suspensions, and the reminder's wording."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from bot.reminders import marker, opted_out, reminder_text
from bot.rules.messages import Catalog
from membership import renewal
from membership.renewal import Member, Reminder, decide, paid_until, reminder_stage
from membership.store import Store
from policies.eligibility import PolicyError
from policies.fees import load_fees, standing

POLICY = load_fees()
TODAY = date(2025, 6, 1)
FEE = POLICY.annual_fee


def paid(days_ago: int, amount: int = FEE) -> tuple[int, str, date]:
    return (amount, POLICY.currency, TODAY - timedelta(days=days_ago))


def test_remind_days_come_from_fees_toml_and_are_checked() -> None:
    assert POLICY.remind_days_before == (30, 7)
    assert load_fees({"remind_days_before": [7, 30, 7]}).remind_days_before == (30, 7)
    with pytest.raises(PolicyError, match="remind_days_before"):
        load_fees({"remind_days_before": [0]})
    with pytest.raises(PolicyError, match="remind_days_before"):
        load_fees({"remind_days_before": "30"})


def test_paid_until_is_the_last_day_standing_says_paid() -> None:
    payments = [paid(350)]
    until = paid_until(POLICY, payments, [], TODAY)
    assert until == TODAY - timedelta(days=350) + timedelta(days=364)
    assert standing(POLICY, payments, [], until) == "paid"
    assert standing(POLICY, payments, [], until + timedelta(days=1)) == "grace"
    assert paid_until(POLICY, [], [], TODAY) is None


def test_paid_until_takes_the_latest_cover_and_ignores_short_or_future_payments() -> None:
    assert paid_until(POLICY, [paid(400), paid(10)], [], TODAY) == TODAY + timedelta(days=354)
    assert paid_until(POLICY, [paid(10, FEE // 2)], [], TODAY) is None  # not the whole fee
    two_halves = [paid(100, FEE // 2), paid(50, FEE // 2)]
    # covered while both halves are in the window: until the first one runs out
    assert paid_until(POLICY, two_halves, [], TODAY) == TODAY + timedelta(days=264)
    assert paid_until(POLICY, [paid(-5)], [], TODAY) is None  # not yet known today
    waived = [TODAY - timedelta(days=20)]
    assert paid_until(POLICY, [paid(300)], waived, TODAY) == TODAY + timedelta(days=344)


def test_reminder_stage_is_the_nearest_window_and_none_outside() -> None:
    def stage(days_left: int) -> int | None:
        until = TODAY + timedelta(days=days_left - 1)  # renews `days_left` days from today
        return reminder_stage(POLICY, until, TODAY)

    assert stage(31) is None
    assert stage(30) == 30
    assert stage(8) == 30
    assert stage(7) == 7
    assert stage(1) == 7
    assert stage(0) is None  # renewal day: the year is over, no "before" reminder
    assert reminder_stage(POLICY, None, TODAY) is None


def member(**values: object) -> Member:
    base: dict[str, object] = {
        "name": "Jane",
        "standing": "paid",
        "paid_until": TODAY + timedelta(days=10),
        "account": "jane",
        "suspended": False,
    }
    base.update(values)
    return Member(**base)  # type: ignore[arg-type]


def test_decide() -> None:
    remind = decide(POLICY, member(), TODAY).remind
    period = (TODAY + timedelta(days=10)).isoformat()
    assert remind == Reminder("Jane", period, 30, TODAY + timedelta(days=11))
    assert remind.renews_on == TODAY + timedelta(days=11)
    assert decide(POLICY, member(paid_until=TODAY + timedelta(days=200)), TODAY).remind is None
    lapsed = member(standing="lapsed", paid_until=TODAY - timedelta(days=60))
    assert decide(POLICY, lapsed, TODAY).suspend
    assert not decide(POLICY, member(standing="grace"), TODAY).suspend
    never = decide(POLICY, member(standing="lapsed", paid_until=None), TODAY)
    assert never.never_covered and not never.suspend
    assert not decide(POLICY, member(standing="lapsed", account=None), TODAY).suspend
    assert not decide(POLICY, member(standing="lapsed", suspended_otherwise=True), TODAY).suspend
    assert decide(POLICY, member(suspended=True), TODAY).restore
    assert decide(POLICY, member(suspended=True, standing="waived"), TODAY).restore
    assert not decide(POLICY, member(suspended=True, standing="lapsed"), TODAY).restore


def test_plan_reminds_once_and_suspends_once(store: Store) -> None:
    store.record_account("jane", "person", "Jane", 10001)
    first = TODAY - timedelta(days=350)
    store.record_payment(
        "Jane",
        amount=FEE,
        currency="USD",
        paid_on=first.isoformat(),
        method="bank",
        reference="r1",
        recorded_by="Treasurer",
    )
    the_plan = renewal.plan(store, POLICY, TODAY)
    assert [m.name for m in the_plan.members] == ["Jane"]
    [due] = the_plan.reminders
    assert (due.member, due.stage) == ("Jane", 30)
    assert store.record_reminder("Jane", due.period, due.stage, "posted", revid=5)
    assert not store.record_reminder("Jane", due.period, due.stage, "posted", revid=6)
    assert renewal.plan(store, POLICY, TODAY).reminders == []
    week_before = TODAY + timedelta(days=9)
    assert [r.stage for r in renewal.plan(store, POLICY, week_before).reminders] == [7]

    late = TODAY + timedelta(days=15 + POLICY.grace_days + 1)
    lapsed_plan = renewal.plan(store, POLICY, late)
    assert [m.name for m in lapsed_plan.suspend] == ["Jane"]
    changes = renewal.apply_accounts(store, POLICY, lapsed_plan)
    assert changes.suspended == ["Jane"] and not changes.errors
    [suspension] = store.suspensions("Jane")
    assert suspension.shell_name == "jane" and suspension.restored_at is None
    assert renewal.plan(store, POLICY, late).suspend == []  # once
    assert renewal.apply_accounts(store, POLICY, lapsed_plan).suspended == []

    store.record_payment(
        "Jane",
        amount=FEE,
        currency="USD",
        paid_on=late.isoformat(),
        method="bank",
        reference="r2",
        recorded_by="Treasurer",
    )
    restore_plan = renewal.plan(store, POLICY, late)
    assert [m.name for m in restore_plan.restore] == ["Jane"]
    assert renewal.apply_accounts(store, POLICY, restore_plan).restored == ["Jane"]
    assert store.open_suspension("Jane") is None
    assert store.suspensions("Jane")[0].restore_reason == "membership renewed (paid)"


def test_dry_run_changes_nothing(store: Store) -> None:
    store.record_account("jane", "person", "Jane", 10001)
    store.record_payment(
        "Jane",
        amount=FEE,
        currency="USD",
        paid_on=(TODAY - timedelta(days=500)).isoformat(),
        method="bank",
        reference="r1",
        recorded_by="Treasurer",
    )
    the_plan = renewal.plan(store, POLICY, TODAY)
    assert renewal.apply_accounts(store, POLICY, the_plan, dry_run=True).suspended == ["Jane"]
    assert store.suspensions() == []


def test_never_paid_members_are_reported_not_suspended(store: Store) -> None:
    store.record_account("joe", "person", "Joe", 10002)
    the_plan = renewal.plan(store, POLICY, TODAY)
    assert the_plan.never_covered == ["Joe"] and the_plan.suspend == []


def test_the_reminder_names_the_date_and_the_bridge_but_no_money_or_waiver() -> None:
    reminder = Reminder("Jane", "2025-06-10", 30, date(2025, 6, 11))
    heading, text, summary = reminder_text(Catalog(), reminder, "https://bridge.example")
    assert "2025-06-11" in heading and "2025-06-11" in text and "2025-06-11" in summary
    assert "https://bridge.example" in text
    assert "{{ATS no reminders}}" in text and text.rstrip().endswith(marker(reminder))
    assert "~~~~" in text
    everything = (heading + text + summary).lower()
    assert "waiver" not in everything
    assert "20.00" not in everything and "usd" not in everything and "$" not in everything


def test_opt_out_template_is_found_only_when_live() -> None:
    assert opted_out("Hi\n{{ATS no reminders}}\n")
    assert opted_out("{{ATS_no_reminders }}")
    assert not opted_out("<!-- {{ATS no reminders}} -->")
    assert not opted_out("<nowiki>{{ATS no reminders}}</nowiki>")
    assert not opted_out("nothing here")
