"""Who may grant, confirm or refuse a fee waiver: the rule, pure.

A waiver spends the chapter's fund, so by default (`waiver_needs_second_admin` in
`policies/fees.toml`) one admin's grant only proposes it and a second, different admin
confirms it. No admin decides their own waiver. `decide` returns what to record, or
raises `WaiverRuleError` whose message tells the admin why not.
"""

from __future__ import annotations

from dataclasses import dataclass

from membership.records import WaiverRecord
from policies.errors import Refusal
from policies.usernames import canonical_username
from policies.words import Words


class WaiverRuleError(Refusal, ValueError):
    """The action is not allowed; the message (`Words`) says why."""


@dataclass(frozen=True)
class WaiverStep:
    operation: str  # decide | confirm
    status: str  # the waiver's status after the step
    audit_action: str


def decide(waiver: WaiverRecord, admin: str, action: str, *, needs_second: bool) -> WaiverStep:
    if canonical_username(admin) == canonical_username(waiver.username):
        raise WaiverRuleError(
            Words(
                "No one may decide their own waiver; ask another admin.",
                "ats-waiver-rule-own",
            )
        )
    if waiver.status != "requested":
        raise WaiverRuleError(already(waiver))
    if action == "refuse":
        return WaiverStep("decide", "refused", "waiver-refused")
    if action != "grant":
        raise WaiverRuleError(
            Words(f"Unknown action {action!r}.", "ats-waiver-rule-unknown", action=action)
        )
    if waiver.awaiting_confirmation:
        if canonical_username(admin) == canonical_username(waiver.decided_by or ""):
            raise WaiverRuleError(
                Words(
                    "You proposed this waiver; a second admin must confirm it.",
                    "ats-waiver-rule-proposer",
                )
            )
        return WaiverStep("confirm", "granted", "waiver-confirmed")
    if needs_second:
        return WaiverStep("decide", "requested", "waiver-grant-proposed")
    return WaiverStep("decide", "granted", "waiver-granted")


def already(waiver: WaiverRecord) -> Words:
    """What happened to a waiver that is no longer as the admin saw it, in one line."""
    key = "ats-waiver-rule-already"
    if waiver.status == "granted":
        if waiver.confirmed_by:
            return Words(
                f"This waiver was already granted: confirmed by {waiver.confirmed_by}.",
                f"{key}-confirmed",
                admin=waiver.confirmed_by,
            )
        if waiver.decided_by:
            return Words(
                f"This waiver was already granted by {waiver.decided_by}.",
                f"{key}-granted-by",
                admin=waiver.decided_by,
            )
        return Words("This waiver was already granted.", f"{key}-granted")
    if waiver.status == "refused":
        return Words(
            f"This waiver was already refused by {waiver.decided_by}.",
            f"{key}-refused",
            admin=waiver.decided_by or "",
        )
    if waiver.status == "withdrawn":
        return Words(
            "This waiver was withdrawn: the member's fee for the year is settled.",
            f"{key}-withdrawn",
        )
    if waiver.awaiting_confirmation:
        return Words(
            f"This waiver was already granted by {waiver.decided_by} and waits for a second "
            "admin's confirmation; reload the page to see it.",
            f"{key}-awaiting",
            admin=waiver.decided_by or "",
        )
    return Words(
        "This waiver changed since the page was loaded; reload the page to see it.",
        "ats-waiver-rule-changed",
    )
