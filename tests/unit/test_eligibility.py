"""The eligibility policy (contract §4): defaults, overrides, and each rule at its boundary."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from policies.eligibility import (
    Block,
    EligibilityPolicy,
    PolicyError,
    UserRecord,
    Verdict,
    evaluate,
    load_policy,
    policy_keys,
)

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def user(**changes: Any) -> UserRecord:
    """An account that meets every default rule; each test changes one thing."""
    values: dict[str, Any] = {
        "name": "Example",
        "editcount": 2431,
        "registration": NOW - timedelta(days=2000),
        "recent_edits": 50,
    }
    values.update(changes)
    return UserRecord(**values)


def verdict(record: UserRecord, **policy: Any) -> Verdict:
    return evaluate(load_policy(policy), record, NOW)


def test_defaults_are_those_of_the_spec() -> None:
    policy = load_policy()
    assert policy == EligibilityPolicy()
    assert (policy.min_edits, policy.min_account_age_days) == (500, 182)
    assert (policy.recent_edits, policy.recent_window_days) == (10, 365)
    assert policy.allow_blocked is False
    assert policy.allow_locked is False
    assert policy.admins == ()
    assert policy.admin_group == ""


def test_overrides_replace_only_the_keys_given() -> None:
    policy = load_policy({"min_edits": 1000, "admins": ["Alice", "bob_smith", "  "]})
    assert policy.min_edits == 1000
    assert policy.admins == ("Alice", "Bob smith")
    assert policy.min_account_age_days == 182


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"min_editz": 5}, "unknown policy key 'min_editz'"),
        ({"min_edits": True}, "'min_edits' must be a whole number, not True"),
        ({"min_edits": "500"}, "'min_edits' must be a whole number, not '500'"),
        ({"min_edits": 500.0}, "'min_edits' must be a whole number"),
        ({"recent_window_days": -1}, "'recent_window_days' must not be negative (got -1)"),
        ({"allow_blocked": "no"}, "'allow_blocked' must be true or false"),
        ({"allow_locked": 0}, "'allow_locked' must be true or false"),
        ({"admins": "AdminUser"}, "'admins' must be a list of usernames"),
        ({"admins": ["AdminUser", 3]}, "'admins' must be a list of usernames"),
        ({"admin_group": ["sysop"]}, "'admin_group' must be a string"),
    ],
)
def test_bad_overrides_are_refused_with_a_message(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(PolicyError) as caught:
        load_policy(overrides)
    assert message in str(caught.value)


def test_unknown_key_message_lists_the_known_keys() -> None:
    with pytest.raises(PolicyError) as caught:
        load_policy({"nope": 1})
    for key in policy_keys():
        assert key in str(caught.value)


def test_eligible_user_passes_every_criterion() -> None:
    result = verdict(user())
    assert result.eligible
    assert [c.name for c in result.criteria] == ["account", "edits", "age", "recent", "blocks"]
    assert result.failed == ()


@pytest.mark.parametrize(
    ("editcount", "passed", "shortfall"),
    [(0, False, 500), (499, False, 1), (500, True, 0), (501, True, 0)],
)
def test_edit_count_boundary(editcount: int, passed: bool, shortfall: int) -> None:
    result = verdict(user(editcount=editcount, wikis=3))
    edits = result.criterion("edits")
    assert edits is not None
    assert (edits.passed, edits.shortfall, edits.found, edits.required) == (
        passed,
        shortfall,
        editcount,
        500,
    )
    assert edits.evidence == {"wikis": 3}
    assert result.eligible is passed


@pytest.mark.parametrize(
    ("days", "passed", "shortfall"),
    [(0, False, 182), (181, False, 1), (182, True, 0), (4000, True, 0)],
)
def test_account_age_boundary(days: int, passed: bool, shortfall: int) -> None:
    registered = NOW - timedelta(days=days, hours=1)
    age = verdict(user(registration=registered)).criterion("age")
    assert age is not None
    assert (age.passed, age.found, age.shortfall) == (passed, days, shortfall)
    assert age.evidence == {"registered": registered.date().isoformat()}


def test_registration_in_another_timezone_is_counted_in_utc() -> None:
    registered = (NOW - timedelta(days=182)).astimezone(timezone(timedelta(hours=-11)))
    age = verdict(user(registration=registered)).criterion("age")
    assert age is not None and age.passed and age.found == 182


def test_accounts_without_registration_date_are_old_enough() -> None:
    # MediaWiki has no registration date for accounts created before late 2005.
    age = verdict(user(registration=None)).criterion("age")
    assert age is not None
    assert age.passed and age.found is None and age.shortfall == 0


@pytest.mark.parametrize(
    ("recent", "passed", "shortfall"),
    [(None, False, 10), (0, False, 10), (9, False, 1), (10, True, 0)],
)
def test_recent_activity_boundary(recent: int | None, passed: bool, shortfall: int) -> None:
    criterion = verdict(user(recent_edits=recent)).criterion("recent")
    assert criterion is not None
    assert (criterion.passed, criterion.shortfall) == (passed, shortfall)
    assert criterion.evidence == {"window_days": 365}


def test_policy_overrides_change_the_thresholds() -> None:
    result = verdict(user(editcount=900), min_edits=1000, recent_window_days=30)
    edits, recent = result.criterion("edits"), result.criterion("recent")
    assert edits is not None and edits.shortfall == 100
    assert recent is not None and recent.evidence == {"window_days": 30}


@pytest.mark.parametrize("status", ["missing", "invalid", "hidden"])
def test_unusable_account_gives_one_failed_account_criterion(status: str) -> None:
    result = verdict(UserRecord("1.2.3.4", status=status, editcount=10_000))
    assert not result.eligible
    assert len(result.criteria) == 1
    (account,) = result.criteria
    assert (account.name, account.passed, account.found) == ("account", False, status)


SITEWIDE = Block(wiki="", by="Admin", reason="vandalism", expiry="infinite")
PARTIAL = Block(wiki="", by="Admin", reason="edit war", expiry="infinite", partial=True)


@pytest.mark.parametrize(
    ("blocks", "allow_blocked", "passed", "listed"),
    [
        ((), False, True, 0),
        ((SITEWIDE,), False, False, 1),
        ((PARTIAL,), False, True, 0),
        ((PARTIAL, SITEWIDE), False, False, 1),
        ((SITEWIDE,), True, True, 1),
    ],
)
def test_blocks(blocks: tuple[Block, ...], allow_blocked: bool, passed: bool, listed: int) -> None:
    result = verdict(user(blocks=blocks), allow_blocked=allow_blocked)
    criterion = result.criterion("blocks")
    assert criterion is not None
    assert criterion.passed is passed
    assert result.eligible is passed
    assert len(criterion.evidence["blocks"]) == listed
    if listed:
        assert criterion.evidence["blocks"][0] == {
            "wiki": "",
            "by": "Admin",
            "reason": "vandalism",
            "expiry": "infinite",
        }


@pytest.mark.parametrize(
    ("source", "locked", "allow_locked", "has_lock", "eligible"),
    [
        ("local", False, False, False, True),
        ("central", False, False, True, True),
        ("central", True, False, True, False),
        ("central", True, True, True, True),
        ("local", True, False, True, False),
    ],
)
def test_lock_criterion(
    source: str, locked: bool, allow_locked: bool, has_lock: bool, eligible: bool
) -> None:
    result = verdict(user(source=source, locked=locked), allow_locked=allow_locked)
    lock = result.criterion("lock")
    assert (lock is not None) is has_lock
    assert result.eligible is eligible
    if lock is not None:
        assert lock.found == ("locked" if locked else "not locked")


def test_every_failed_criterion_is_reported() -> None:
    result = verdict(user(editcount=10, recent_edits=0, blocks=(SITEWIDE,)))
    assert [c.name for c in result.failed] == ["edits", "recent", "blocks"]


@pytest.mark.parametrize(
    ("admins", "group", "name", "groups", "expected"),
    [
        (["Admin User"], "", "Admin_User", (), True),
        (["Admin_User"], "", "admin User", (), True),
        (["admin_User"], "", "Admin User", (), True),
        (["Admin User"], "", "Admin user", (), False),  # only the first letter is case-free
        (["Admin User"], "", "Other", (), False),
        ([], "toolserver-admin", "Other", ("user", "toolserver-admin"), True),
        ([], "", "Other", ("sysop",), False),
        ([], "toolserver-admin", "Other", ("sysop",), False),
    ],
)
def test_is_admin(
    admins: list[str], group: str, name: str, groups: tuple[str, ...], expected: bool
) -> None:
    policy = load_policy({"admins": admins, "admin_group": group})
    assert policy.is_admin(name, groups) is expected
