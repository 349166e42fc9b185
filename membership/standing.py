"""Members in good standing: what the daily re-check found about locks and blocks.

A member is approved once, but can be globally locked or blocked on a wiki later. The
pure part turns what the wiki said about one member (a `UserRecord`) into findings —
exactly the facts it gave: a lock, a sitewide block on a wiki with its expiry and
reason, an account that is missing (renamed?) or hidden (suppressed?) — and compares
them with the member's previous findings (`compare`). The store part (`record`) keeps
each member's current standing in `member_standing` and writes one audit entry per
change (`standing-flagged`, `standing-cleared`), inside one write transaction, so a
check run twice, or two at once, never records a change twice. Nothing here suspends
anyone: an admin reads the list (`flagged`) and decides.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from membership.store import Store
from policies.eligibility import UserRecord
from policies.times import iso
from policies.usernames import canonical_username

ACTOR = "standing-check"
GOOD, FLAGGED = "good", "flagged"
FLAGGED_ACTION, CLEARED_ACTION = "standing-flagged", "standing-cleared"
NEVER = ("infinite", "infinity", "indefinite", "never", "")
KIND_ORDER = ("locked", "missing", "hidden", "blocked")
FIELDS = ("kind", "wiki", "expiry", "reason", "seen")


# -- pure ----------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One fact the wiki gave that puts a member's good standing in question."""

    kind: str  # locked | blocked | missing | hidden
    wiki: str = ""  # blocked: the wiki's id
    expiry: str = ""  # blocked: "infinity"/"infinite" or an ISO 8601 timestamp
    reason: str = ""  # blocked: the block's reason as the wiki gives it
    seen: str = ""  # when this check first saw it (not part of its identity)

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.kind, self.wiki, self.expiry, self.reason)

    def as_dict(self) -> dict[str, str]:
        return {
            "kind": self.kind,
            "wiki": self.wiki,
            "expiry": self.expiry,
            "reason": self.reason,
            "seen": self.seen,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        return cls(
            **{k: str(data.get(k, "")) for k in ("kind", "wiki", "expiry", "reason", "seen")}
        )

    def describe(self) -> str:
        """One phrase for admins: `locked`, `blocked on enwiki until …: reason`."""
        if self.kind == "locked":
            return "locked (globally)"
        if self.kind == "missing":
            return "account not found (renamed or deleted?)"
        if self.kind == "hidden":
            return "account hidden (suppressed?)"
        if self.kind == "blocked":
            where = f"blocked on {self.wiki or 'the wiki'}"
            until = (
                " indefinitely" if self.expiry.lower() in NEVER else f" until {_when(self.expiry)}"
            )
            why = f": {self.reason}" if self.reason else " (no reason given)"
            return where + until + why
        return self.kind


def findings_of(record: UserRecord, *, home_wiki: str = "") -> tuple[Finding, ...]:
    """What in `record` questions the member's standing; empty when nothing does.

    A partial block does not count (it keeps the member out of some pages only), as in
    the eligibility policy. `home_wiki` names the wiki a local block (`wiki=""`) is on.
    """
    if record.status in ("missing", "invalid"):
        return (Finding("missing"),)
    if record.status == "hidden":
        return (Finding("hidden"),)
    found = [Finding("locked")] if record.locked else []
    found += [
        Finding("blocked", wiki=b.wiki or home_wiki, expiry=b.expiry, reason=b.reason)
        for b in record.blocks
        if not b.partial
    ]
    return _sorted(found)


@dataclass(frozen=True)
class Change:
    """What one check changes for one member: new findings, gone findings, or none."""

    member: str
    findings: tuple[Finding, ...]  # the current findings, first-seen times kept
    new: tuple[Finding, ...] = ()
    gone: tuple[Finding, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.new or self.gone)

    @property
    def state(self) -> str:
        return FLAGGED if self.findings else GOOD

    @property
    def action(self) -> str | None:
        """The audit entry this change makes: flagged when anything is new, cleared when
        something went and nothing came; None when nothing changed."""
        if self.new:
            return FLAGGED_ACTION
        if self.gone:
            return CLEARED_ACTION
        return None


def compare(member: str, previous: Sequence[Finding], fresh: Iterable[Finding], now: str) -> Change:
    """The change from `previous` findings to `fresh` ones, seen at `now` (ISO)."""
    before = {f.key: f for f in previous}
    current: list[Finding] = []
    new: list[Finding] = []
    for finding in dict.fromkeys(fresh):
        kept = before.get(finding.key)
        if kept is not None:
            current.append(kept)
        else:
            seen = replace(finding, seen=now)
            current.append(seen)
            new.append(seen)
    keys = {f.key for f in current}
    gone = [f for f in previous if f.key not in keys]
    return Change(member, _sorted(current), _sorted(new), _sorted(gone))


def describe_all(findings: Iterable[Finding]) -> str:
    return "; ".join(f.describe() for f in findings)


def _sorted(findings: Iterable[Finding]) -> tuple[Finding, ...]:
    return tuple(
        sorted(
            findings, key=lambda f: (KIND_ORDER.index(f.kind) if f.kind in KIND_ORDER else 9, f.key)
        )
    )


def _when(timestamp: str) -> str:
    try:
        moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return timestamp
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


# -- the store -----------------------------------------------------------------


@dataclass(frozen=True)
class MemberStanding:
    member: str
    state: str  # good | flagged
    findings: tuple[Finding, ...]
    flagged_since: str | None
    last_checked: str
    cleared_at: str | None

    def describe(self) -> str:
        return describe_all(self.findings)


def standing_of(store: Store, member: str) -> MemberStanding | None:
    row = store.standing_row(canonical_username(member))
    return _standing(row) if row else None


def flagged(store: Store) -> list[MemberStanding]:
    """Members whose last check found something, longest flagged first."""
    return [_standing(row) for row in store.standing_rows(FLAGGED)]


def record(
    store: Store, member: str, fresh: Iterable[Finding], now: datetime | None = None
) -> Change:
    """Compare `fresh` with the stored standing and keep the result, in one transaction.

    The previous standing is read inside the write transaction, so of two checks running
    at once the second sees what the first wrote and finds no change to record.
    """
    member = canonical_username(member)
    at = iso(now)
    fresh = tuple(fresh)
    with store.transaction():
        before = standing_of(store, member)
        change = compare(member, before.findings if before else (), fresh, at)
        flagged_since = before.flagged_since if before and before.state == FLAGGED else None
        if change.state == FLAGGED and flagged_since is None:
            flagged_since = at
        cleared_at = before.cleared_at if before else None
        if change.state == GOOD and before is not None and before.state == FLAGGED:
            cleared_at, flagged_since = at, None
        store.write_standing(
            member,
            change.state,
            json.dumps([f.as_dict() for f in change.findings], ensure_ascii=False),
            flagged_since=flagged_since,
            last_checked=at,
            cleared_at=cleared_at,
        )
        if change.action is not None:
            store.audit(
                ACTOR,
                change.action,
                None,
                member=member,
                found=[f.as_dict() for f in change.new],
                cleared=[f.as_dict() for f in change.gone],
                standing=[f.as_dict() for f in change.findings],
                checked_at=at,
            )
    return change


@dataclass
class CheckReport:
    """What one re-check did: the members asked about and what changed."""

    checked: int = 0
    flagged: list[Change] = field(default_factory=list)  # something new found
    cleared: list[Change] = field(default_factory=list)  # nothing left
    unreachable: list[str] = field(default_factory=list)  # look-up failed: standing kept
    errors: list[str] = field(default_factory=list)

    def add(self, change: Change) -> None:
        self.checked += 1
        if change.new:
            self.flagged.append(change)
        elif change.gone and not change.findings:
            self.cleared.append(change)

    def summary(self) -> str:
        flagged = ", ".join(f"{c.member}: {describe_all(c.new)}" for c in self.flagged)
        cleared = ", ".join(c.member for c in self.cleared)
        total = self.checked + len(self.unreachable)
        line = (
            f"checked {total} member{'' if total == 1 else 's'}: "
            f"{len(self.flagged)} newly flagged{f' ({flagged})' if flagged else ''}, "
            f"{len(self.cleared)} cleared{f' ({cleared})' if cleared else ''}, "
            f"{len(self.unreachable)} not reachable"
        )
        lines = [line, *(f"  not reachable: {e}" for e in self.errors)]
        return "\n".join(lines)


def _standing(row: dict[str, Any]) -> MemberStanding:
    return MemberStanding(
        member=row["member"],
        state=row["state"],
        findings=tuple(Finding.from_dict(f) for f in json.loads(row["findings"])),
        flagged_since=row["flagged_since"],
        last_checked=row["last_checked"],
        cleared_at=row["cleared_at"],
    )
