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
        raise WaiverRuleError(already(waiver))
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


def already(waiver: WaiverRecord) -> str:
    """What happened to a waiver that is no longer as the admin saw it, in one line."""
    if waiver.status == "granted":
        if waiver.confirmed_by:
            return f"This waiver was already granted: confirmed by {waiver.confirmed_by}."
        by = f" by {waiver.decided_by}" if waiver.decided_by else ""
        return f"This waiver was already granted{by}."
    if waiver.status == "refused":
        return f"This waiver was already refused by {waiver.decided_by}."
    if waiver.status == "withdrawn":
        return "This waiver was withdrawn: the member's fee for the year is settled."
    if waiver.awaiting_confirmation:
        return (
            f"This waiver was already granted by {waiver.decided_by} and waits for a second "
            "admin's confirmation; reload the page to see it."
        )
    return "This waiver changed since the page was loaded; reload the page to see it."
