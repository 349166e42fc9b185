"""Who counts as an established Wikimedian: the eligibility policy and its evaluator.

`EligibilityPolicy` is the chapter's policy as data (defaults in `eligibility.toml`,
overridable key by key). `UserRecord` is what the wiki told us about one account,
already normalised by the adapter that asked. `evaluate` is pure: given a policy, a
record and the current time it returns a `Verdict` holding one `Criterion` per rule,
each with the figure required, the figure found and the evidence, so that a refusal
can say exactly which rule failed and by how much.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any

from policies.tomlcheck import TableError, load_bundled, setting
from policies.usernames import canonical_username


class PolicyError(TableError):
    """A policy value is missing, unknown or of the wrong type."""


def _usernames(names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(canonical_username(n) for n in names if n.strip())


@dataclass(frozen=True)
class EligibilityPolicy:
    min_edits: int = setting(500, minimum=0)
    min_account_age_days: int = setting(182, minimum=0)
    recent_edits: int = setting(10, minimum=0)
    recent_window_days: int = setting(365, minimum=0)
    recent_max_wikis: int = setting(5, minimum=1)
    allow_blocked: bool = False
    allow_locked: bool = False
    admins: tuple[str, ...] = setting((), wanted="a list of usernames", convert=_usernames)
    admin_group: str = ""

    def is_admin(self, username: str, groups: tuple[str, ...] = ()) -> bool:
        """True when `username` may decide requests (by name, or by wiki group)."""
        wanted = canonical_username(username)
        if any(canonical_username(a) == wanted for a in self.admins):
            return True
        return bool(self.admin_group) and self.admin_group in groups


def policy_keys() -> tuple[str, ...]:
    return tuple(f.name for f in fields(EligibilityPolicy))


def load_policy(overrides: Mapping[str, Any] | None = None) -> EligibilityPolicy:
    """The bundled default policy with `overrides` (the config's `[policy]`) applied."""
    return load_bundled(
        EligibilityPolicy, "eligibility.toml", overrides, noun="policy", error=PolicyError
    )


@dataclass(frozen=True)
class Block:
    """A sitewide block on one wiki ("" is the wiki the bot runs on)."""

    wiki: str
    by: str
    reason: str
    expiry: str  # "infinite" or an ISO 8601 timestamp
    partial: bool = False


@dataclass(frozen=True)
class AttachedWiki:
    """One wiki where a global account is attached (CentralAuth's `merged` entry)."""

    wiki: str  # the database name, e.g. "enwiki"
    url: str  # the canonical server, e.g. "https://en.wikipedia.org"
    editcount: int = 0
    label: str = ""  # how replies name it, e.g. "en.wikipedia"


@dataclass(frozen=True)
class UserRecord:
    """What the wiki says about one account, normalised by the adapter that asked."""

    name: str
    status: str = "ok"  # ok | missing | invalid (an IP address or an illegal name) | hidden
    editcount: int = 0
    registration: datetime | None = None
    recent_edits: int | None = None  # edits seen in the recent window (may stop counting early)
    wikis: int = 1
    blocks: tuple[Block, ...] = ()
    locked: bool = False
    groups: tuple[str, ...] = ()
    source: str = "local"  # local (list=users) | central (meta=globaluserinfo)
    attached: tuple[AttachedWiki, ...] = ()  # central only
    counted_on: tuple[str, ...] = ()  # labels of the wikis where recent edits were counted
    unreachable: tuple[str, ...] = ()  # labels of wikis that were asked and did not answer


@dataclass(frozen=True)
class Criterion:
    """One rule of the policy applied to one user."""

    name: str  # account | edits | age | recent | blocks | lock
    passed: bool
    required: Any = None
    found: Any = None
    shortfall: int | None = None  # how far short of `required`, for countable rules
    evidence: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Verdict:
    username: str
    eligible: bool
    criteria: tuple[Criterion, ...]

    @property
    def failed(self) -> tuple[Criterion, ...]:
        return tuple(c for c in self.criteria if not c.passed)

    def criterion(self, name: str) -> Criterion | None:
        return next((c for c in self.criteria if c.name == name), None)


def evaluate(policy: EligibilityPolicy, user: UserRecord, now: datetime) -> Verdict:
    """Apply every rule of `policy` to `user`; pure."""
    if user.status != "ok":
        account = Criterion("account", False, required="a registered account", found=user.status)
        return Verdict(user.name, False, (account,))
    criteria = [
        Criterion("account", True, required="a registered account", found="ok"),
        _count("edits", policy.min_edits, user.editcount, {"wikis": user.wikis}),
        _age(policy, user, now),
        _recent(policy, user),
        _blocks(policy, user),
    ]
    if user.source == "central" or user.locked:
        criteria.append(
            Criterion(
                "lock",
                policy.allow_locked or not user.locked,
                required="not locked",
                found="locked" if user.locked else "not locked",
            )
        )
    return Verdict(user.name, all(c.passed for c in criteria), tuple(criteria))


def _count(name: str, required: int, found: int, evidence: Mapping[str, Any]) -> Criterion:
    passed = found >= required
    return Criterion(name, passed, required, found, 0 if passed else required - found, evidence)


def _age(policy: EligibilityPolicy, user: UserRecord, now: datetime) -> Criterion:
    if user.registration is None:
        # Accounts older than 2005 have no registration date: they are old by definition.
        return Criterion("age", True, policy.min_account_age_days, None, 0, {"registered": None})
    registered = user.registration.astimezone(UTC)
    days = max(0, (now - registered) // timedelta(days=1))
    return _count(
        "age", policy.min_account_age_days, days, {"registered": registered.date().isoformat()}
    )


def _recent(policy: EligibilityPolicy, user: UserRecord) -> Criterion:
    found = user.recent_edits or 0
    evidence: dict[str, Any] = {"window_days": policy.recent_window_days}
    if user.source == "central":
        evidence.update(wikis=list(user.counted_on), unreachable=list(user.unreachable))
    return _count("recent", policy.recent_edits, found, evidence)


def only_uncertain(verdict: Verdict, user: UserRecord) -> bool:
    """True when the only rule that failed is recent activity and a wiki that might
    have held the missing edits did not answer: the verdict must wait, not refuse."""
    failed = verdict.failed
    return bool(user.unreachable) and bool(failed) and all(c.name == "recent" for c in failed)


def _blocks(policy: EligibilityPolicy, user: UserRecord) -> Criterion:
    sitewide = tuple(b for b in user.blocks if not b.partial)
    passed = policy.allow_blocked or not sitewide
    found = "not blocked" if not sitewide else f"blocked on {len(sitewide)} wiki(s)"
    evidence = {
        "blocks": [
            {"wiki": b.wiki, "by": b.by, "reason": b.reason, "expiry": b.expiry} for b in sitewide
        ]
    }
    return Criterion("blocks", passed, "no sitewide block", found, None, evidence)
