"""How much each account's tool databases hold against the chapter's limit, and which
accounts went over it or back under it with a new measurement (pure: the caller reads
the server and the store).

MariaDB does not enforce a size, so the chapter's limit (`[databases] size_limit_mb`;
0: none) is watched: an account is over when the total of its databases (data and
indexes, as `information_schema` estimates them) exceeds the limit. Going over is told
once per crossing: a measurement that finds an account over while the previous one did
not (or there was none) is a crossing, counted in `crossings`; the next measurements
that find it still over are not; after one finds it under again, the next crossing is
told again. The accounts are those the store wants database users for (`desired`); a
database of a user the store does not know is no account's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from databases.desired import Wanted
from membership.records import DatabaseUsage

MB = 1024 * 1024  # the unit of `size_limit_mb` and of every size shown


@dataclass(frozen=True)
class Assessment:
    usage: tuple[DatabaseUsage, ...]  # every account, as measured now
    crossed: tuple[DatabaseUsage, ...]  # went over the limit with this measurement
    back_under: tuple[DatabaseUsage, ...]  # were over, and are not any more


def assess(
    accounts: Sequence[Wanted],
    sizes: Mapping[str, Mapping[str, int]],
    before: Mapping[str, DatabaseUsage],
    limit: int,
    now: str,
) -> Assessment:
    """Each account's usage from the server's `sizes` (bytes by database, by user) under
    `limit` (bytes; 0: none), carried on from its usage `before` (by user)."""
    usage, crossed, back = [], [], []
    for account in sorted(accounts, key=lambda item: item.user):
        databases = tuple(sorted((str(n), int(s)) for n, s in sizes.get(account.user, {}).items()))
        total = sum(size for _, size in databases)
        prior = before.get(account.user)
        was_over = prior is not None and prior.over
        measured = DatabaseUsage(
            user=account.user,
            kind=account.kind,
            name=account.name,
            owner=account.owner or account.name,
            total=total,
            limit=limit,
            over=over_limit(total, limit),
            over_since=None,
            crossings=prior.crossings if prior is not None else 0,
            observed_at=now,
            databases=databases,
        )
        if measured.over and not was_over:
            measured = replace(measured, over_since=now, crossings=measured.crossings + 1)
            crossed.append(measured)
        elif measured.over:
            assert prior is not None
            measured = replace(measured, over_since=prior.over_since)
        elif was_over:
            back.append(measured)
        usage.append(measured)
    return Assessment(tuple(usage), tuple(crossed), tuple(back))


def over_limit(total: int, limit: int) -> bool:
    """Whether `total` bytes are over `limit` (0: no limit)."""
    return limit > 0 and total > limit


def megabytes(size: int) -> str:
    """A size as the command line writes it: `12.3 MB` (MB of 1024 × 1024 bytes)."""
    return f"{size / MB:.1f} MB"


def label(usage: DatabaseUsage) -> str:
    """How a line names the account: `s51234 (tool mytool)`, as `desired.Wanted` does."""
    return f"{usage.user} ({'tool' if usage.kind == 'tool' else 'member'} {usage.name})"
