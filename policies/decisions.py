"""Who may add which decision template: the authorisation rule, as data and one function.

Pure. `authorize` answers whether the user who introduced a decision template (as
proven from the page history by the caller) was allowed to add it, and if not, why:
approve, decline and hold are for the chapter's admins, never on their own request;
withdraw is for the requester, the account it is for, or an admin; recheck is for
anyone.
"""

from __future__ import annotations

from dataclasses import dataclass

from policies.eligibility import EligibilityPolicy
from policies.usernames import canonical_username

ADMIN_ONLY = frozenset({"approve", "decline", "hold"})
KINDS = ("approve", "decline", "hold", "withdraw", "recheck")


@dataclass(frozen=True)
class Authorization:
    allowed: bool
    reason: (
        str  # admin | requester | anyone | not-admin | own-request | not-requester | unknown-author
    )


def authorize(
    policy: EligibilityPolicy,
    kind: str,
    actor: str | None,
    *,
    requester: str,
    subject: str,
    actor_groups: tuple[str, ...] = (),
) -> Authorization:
    if kind == "recheck":
        return Authorization(True, "anyone")
    if not actor:
        return Authorization(False, "unknown-author")
    is_admin = policy.is_admin(actor, actor_groups)
    mine = canonical_username(actor) in {canonical_username(requester), canonical_username(subject)}
    if kind in ADMIN_ONLY:
        if not is_admin:
            return Authorization(False, "not-admin")
        if mine:
            return Authorization(False, "own-request")
        return Authorization(True, "admin")
    if kind == "withdraw":
        if mine:
            return Authorization(True, "requester")
        if is_admin:
            return Authorization(True, "admin")
        return Authorization(False, "not-requester")
    raise ValueError(f"unknown decision {kind!r}")
