"""What the admins' desk shows about a request beyond its gates: where it is on the wiki,
the revisions that hold its decisions, its history, and the same person's earlier
requests that were declined, withdrawn or expired.

Links are built from the configured wiki (`[wiki] api`, its `index.php` beside it):
the request's section is the page (or the archive it was moved to) and the anchor
MediaWiki gives the heading (spaces as underscores, a repeated heading `_2`, `_3`…);
a decision links to the revision that introduced it (`index.php?oldid=`) and to that
edit's diff (`index.php?diff=`). The history comes from the audit log: the request's
own entries, and the member's entries that belong to no request (terms, keys, fee,
waiver, identification), each put into words in the reader's language. Evidence the
audit log keeps beyond the action (payment details, a waiver's reason) is not shown.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from markupsafe import Markup

from bridge import dates, i18n
from membership.fund import Settled
from membership.records import AuditEntry, DecisionRecord, RequestRecord
from membership.standing import NEVER, Finding
from membership.store import Store
from policies.money import format_minor

EARLIER = ("declined", "withdrawn", "expired")
# Entries that say nothing an admin acts on: repeated checks, the bot's bookkeeping.
QUIET = {"said-progress", "edited", "attributed", "rebound", "bridge-login", "saved"}
# action -> message; `evaluated:STATE`, `decision:KIND` and the job kinds are below.
SIMPLE = {
    "filed": "filed",
    "expired": "expired",
    "archived": "archived",
    "approval-voided-by-edit": "approval-voided",
    "ignored-decision": "ignored-decision",
    "forged-status-line": "forged-line",
    "terms-accepted": "terms",
    "ssh-key-added": "key-added",
    "ssh-key-removed": "key-removed",
    "keys-queued": "keys-queued",
    "identification-attested": "attested",
    "payment-recorded": "paid",
    "waiver-requested": "waiver-requested",
    "waiver-withdrawn": "waiver-withdrawn",
    "waiver-grant-proposed": "waiver-proposed",
    "waiver-granted": "waiver-granted",
    "waiver-confirmed": "waiver-granted",
    "waiver-refused": "waiver-refused",
    "waiver-queued": "waiver-queued",
    "waiver-released": "waiver-paid",
    "waiver-paid-by-fund": "waiver-paid",
    "provisioning-queued": "provisioning-queued",
    "provisioning-started": "provisioning-started",
    "provisioning-done": "provisioning-done",
    "provisioning-failed": "provisioning-failed",
    "provisioning-deferred": "provisioning-deferred",
    "account-suspended": "account-suspended",
    "account-restored": "account-restored",
    "admin-suspended": "admin-suspended",
    "admin-restored": "admin-restored",
    "database-over-limit": "database-over",
    "database-under-limit": "database-under",
}
DECISIONS = ("approve", "decline", "hold", "withdraw", "recheck")
DUPLICATE = re.compile(r" #(\d+)$")


@dataclass(frozen=True)
class WikiLinks:
    """URLs on the wiki the bot reads, from its `index.php`."""

    index: str

    @classmethod
    def from_api(cls, api: str) -> WikiLinks:
        return cls(api.rsplit("/", 1)[0] + "/index.php")

    def page(self, title: str, anchor: str = "") -> str:
        url = f"{self.index}?title={quote(title.replace(' ', '_'), safe='/:')}"
        return f"{url}#{quote(anchor, safe='/:!$()*,;@~-._')}" if anchor else url

    def section(self, record: RequestRecord) -> str:
        return self.page(record.archive_page or record.page, section_anchor(record))

    def revision(self, revid: int) -> str:
        return f"{self.index}?oldid={int(revid)}"

    def diff(self, revid: int) -> str:
        return f"{self.index}?diff={int(revid)}"


def section_anchor(record: RequestRecord) -> str:
    """The anchor MediaWiki gives the request's heading: spaces as underscores, and
    `_N` for the N-th section of the same heading (the clerk keys it `Heading #N`)."""
    anchor = " ".join(record.heading.split()).replace(" ", "_")
    repeated = DUPLICATE.search(record.key)
    if repeated and record.key.startswith(record.heading + " #"):
        anchor += f"_{repeated.group(1)}"
    return anchor


@dataclass(frozen=True)
class Event:
    """One line of a history: when, who, what (put into words), and the revision on
    the wiki where it happened, when there is one."""

    at: str
    actor: str
    words: Markup
    revid: int | None = None


@dataclass(frozen=True)
class Decision:
    record: DecisionRecord
    words: Markup
    reason: str


@dataclass(frozen=True)
class RequestDesk:
    """What the desk shows about one request."""

    record: RequestRecord
    section_url: str
    decisions: Sequence[Decision]
    history: Sequence[Event]
    reason: str  # why it was declined, withdrawn or expired; empty otherwise


def _state(state: str) -> Markup:
    return i18n.text(f"ats-bridge-state-{state}")


def describe(entry: AuditEntry) -> Event | None:
    """The audit entry as a history line, or None for bookkeeping nobody acts on."""
    action, evidence = entry.action, entry.evidence
    revid = evidence.get("revid") if isinstance(evidence.get("revid"), int) else None
    if action in QUIET:
        return None
    if action.startswith("evaluated:"):
        words = i18n.text("ats-bridge-history-checked", state=_state(action.split(":", 1)[1]))
    elif action == "gates-state":
        words = i18n.text("ats-bridge-history-moved", state=_state(str(evidence.get("after"))))
    elif action.startswith("decision:") and action.split(":", 1)[1] in DECISIONS:
        words = i18n.text(f"ats-bridge-history-decision-{action.split(':', 1)[1]}")
    elif action in SIMPLE:
        words = i18n.text(f"ats-bridge-history-{SIMPLE[action]}")
    elif action in ("tool-maintainer-added", "tool-maintainer-removed"):
        words = i18n.text(
            f"ats-bridge-history-{action}",
            name=str(evidence.get("whom", "")),
            tool=str(evidence.get("tool", "")),
        )
    else:
        words = i18n.text("ats-bridge-history-other", action=action)
    return Event(entry.at, entry.actor, words, revid)


def history(entries: Iterable[AuditEntry]) -> list[Event]:
    """The entries in words, oldest first, a repeated check of the same state once."""
    events: list[Event] = []
    last_check = ""
    for entry in sorted(entries, key=lambda e: (e.at, e.id)):
        if entry.action.startswith("evaluated:"):
            if entry.action == last_check:
                continue
            last_check = entry.action
        elif entry.action == "gates-state":
            last_check = f"evaluated:{entry.evidence.get('after')}"
        event = describe(entry)
        if event is not None:
            events.append(event)
    return events


def decision_reason(decision: DecisionRecord) -> str:
    """The reason the admin wrote in the decision template (`|1=` or `|reason=`)."""
    return (decision.params.get("1") or decision.params.get("reason") or "").strip()


def request_desk(store: Store, links: WikiLinks, record: RequestRecord) -> RequestDesk:
    decisions = [
        Decision(
            d,
            i18n.text(
                f"ats-bridge-history-decision-{d.kind}"
                if d.kind in DECISIONS
                else "ats-bridge-history-other",
                action=d.kind,
            ),
            decision_reason(d) if d.kind != "approve" else d.reason,
        )
        for d in store.decisions(record.id)
    ]
    reason = ""
    if record.state in EARLIER:
        closing = [d for d in decisions if d.record.honoured and d.record.kind != "recheck"]
        if closing:
            reason = closing[-1].reason
    return RequestDesk(
        record,
        links.section(record),
        decisions,
        history(store.audit_log(record.id)),
        reason,
    )


def member_desk(
    store: Store, links: WikiLinks, username: str, own: Sequence[RequestRecord]
) -> dict[str, Any]:
    """The member page's share: each current request's desk, the earlier declined,
    withdrawn or expired ones (newest first), and the member's own history."""
    desks = [request_desk(store, links, r) for r in own]
    return {
        "current": [d for d in desks if d.record.state not in EARLIER],
        "earlier": [d for d in desks if d.record.state in EARLIER],
        "member_history": history(store.member_audit(username)),
    }


SETTLED = (
    "refused",
    "proposed",
    "second-admin",
    "already-queued",
    "queued",
    "granted",
    "withdrawn",
)


def settled_words(
    outcome: Settled, currency: str, waiver_id: int
) -> tuple[str, dict[str, Any]] | str:
    """What a waiver decision did, as a message (key, parameters) in the reader's
    language; the rules' own English line when the outcome is not one of those known."""
    if outcome.code not in SETTLED:
        return outcome.admin_message
    params: dict[str, Any] = {
        name: f"{format_minor(amount, currency)} {currency}"
        for name, amount in outcome.amounts.items()
    }
    if outcome.code == "withdrawn":
        params["id"] = waiver_id
    return f"ats-bridge-waiver-outcome-{outcome.code}", params


def finding_words(finding: Finding) -> Markup:
    """What the daily re-check found about a member, in the reader's language: locked,
    blocked (where, until when, why), missing or hidden; an unknown kind as its code."""
    if finding.kind in ("locked", "missing", "hidden"):
        return i18n.text(f"ats-bridge-finding-{finding.kind}")
    if finding.kind != "blocked":
        return Markup.escape(finding.kind)
    wiki = finding.wiki or i18n.text("ats-bridge-finding-the-wiki")
    reason = finding.reason or i18n.text("ats-bridge-finding-no-reason")
    if finding.expiry.lower() in NEVER:
        return i18n.text("ats-bridge-finding-blocked-indefinitely", wiki=wiki, reason=reason)
    try:
        until = dates.when(finding.expiry)
    except ValueError:  # the wiki's own words for a moment the bridge cannot read
        until = Markup.escape(finding.expiry)
    return i18n.text("ats-bridge-finding-blocked-until", wiki=wiki, date=until, reason=reason)
