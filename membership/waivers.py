"""Who may grant, confirm or refuse a fee waiver: the rule, pure.

A waiver spends the chapter's fund, so by default (`waiver_needs_second_admin` in
`policies/fees.toml`) one admin's grant only proposes it and a second, different admin
confirms it. No admin decides their own waiver. `decide` returns what to record, or
raises `WaiverRuleError` whose message tells the admin why not.
"""

from __future__ import annotations

from dataclasses import dataclass

from membership.store import WaiverRecord
from policies.eligibility import canonical_username


class WaiverRuleError(ValueError):
    """The action is not allowed; the message says why."""


@dataclass(frozen=True)
class WaiverStep:
    operation: str  # decide | confirm
    status: str  # the waiver's status after the step
    audit_action: str


def decide(waiver: WaiverRecord, admin: str, action: str, *, needs_second: bool) -> WaiverStep:
    if canonical_username(admin) == canonical_username(waiver.username):
        raise WaiverRuleError("No one may decide their own waiver; ask another admin.")
    if waiver.status != "requested":
        raise WaiverRuleError(f"This waiver was already {waiver.status}.")
    if action == "refuse":
        return WaiverStep("decide", "refused", "waiver-refused")
    if action != "grant":
        raise WaiverRuleError(f"Unknown action {action!r}.")
    if waiver.awaiting_confirmation:
        if canonical_username(admin) == canonical_username(waiver.decided_by or ""):
            raise WaiverRuleError("You proposed this waiver; a second admin must confirm it.")
        return WaiverStep("confirm", "granted", "waiver-confirmed")
    if needs_second:
        return WaiverStep("decide", "requested", "waiver-grant-proposed")
    return WaiverStep("decide", "granted", "waiver-granted")
