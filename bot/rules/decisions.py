"""Decisions on-wiki, honoured only when the page history proves who made them. Pure.

For every decision template on the page that the store has not seen (`new_decisions`,
given the ones it has), the author is the user who introduced it in that request
(`bot.rules.history.History`: its first appearance in the page's whole history, followed
through removals and restores; a line brought back by a revert is never the reverting
user's), and `decide` asks `policies.decisions` whether that user may add it, given the
authors' wiki groups the clerk looked up. Allowed decisions move the request
(`membership.lifecycle`); the rest are ignored, written to the audit log and answered
on the page with the reason. Each template instance is acted on once: the store
remembers it, honoured or not. A recheck judges the request again on user records the
clerk looked up afresh (`recheck_subjects` says whose).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from bot.rules import judging, page, replies
from bot.rules.history import History
from bot.rules.messages import Catalog
from bot.rules.planned import Planned
from bot.rules.provenance import Origin
from bot.rules.settings import ClerkSettings
from membership.lifecycle import after_decision
from membership.states import REEVALUATED_ON_EDIT, State
from policies.decisions import authorize
from policies.eligibility import UserRecord

Found = tuple[Planned, page.Decision, Origin | None]


def new_decisions(
    planned: Iterable[Planned], known: Mapping[int, set[tuple[str, int]]], history: History
) -> list[Found]:
    """Each decision template the store has not seen (`known`: (wikitext, ordinal) by
    request id), with the revision that introduced it; a template first seen in a
    revert belongs to nobody, so it counts for nobody."""
    found: list[Found] = []
    for item in planned:
        seen = known.get(item.record.id, set()) if item.record else set()
        for d in item.section.decisions:
            if (d.wikitext, d.ordinal) not in seen:
                rev = history.decision_origin(item.section, d)
                found.append((item, d, rev if rev and rev.user else None))
    return found


def authors(found: Iterable[Found]) -> list[str]:
    """Who added the decisions: the users whose wiki groups the policy may need."""
    return sorted({rev.user for _, _, rev in found if rev})


def recheck_subjects(
    found: Iterable[Found], groups: Mapping[str, tuple[str, ...]], settings: ClerkSettings
) -> list[str]:
    """The users to look up afresh for the rechecks their authors may ask for."""
    items = [
        item
        for item, decision, rev in found
        if decision.kind == "recheck" and _authorize(settings, item, decision, rev, groups).allowed
    ]
    return judging.lookups_needed(items)


def decide(
    found: Iterable[Found],
    groups: Mapping[str, tuple[str, ...]],
    fresh_users: Mapping[str, UserRecord | str],
    now: datetime,
    settings: ClerkSettings,
) -> None:
    """Act on each new decision in page order, or ignore it with the reason."""
    for item, decision, rev in found:
        _one(item, decision, rev, groups, fresh_users, now, settings)


def _authorize(
    s: ClerkSettings,
    item: Planned,
    decision: page.Decision,
    rev: Origin | None,
    groups: Mapping[str, tuple[str, ...]],
) -> Any:
    return authorize(
        s.policy,
        decision.kind,
        rev.user if rev else None,
        requester=item.requester,
        subject=item.subject,
        actor_groups=groups.get(rev.user, ()) if rev else (),
    )


def _one(
    item: Planned,
    decision: page.Decision,
    rev: Origin | None,
    groups: Mapping[str, tuple[str, ...]],
    fresh_users: Mapping[str, UserRecord | str],
    now: datetime,
    s: ClerkSettings,
) -> None:
    actor = rev.user if rev else None
    catalog = Catalog(item.lang, s.content_lang)
    auth = _authorize(s, item, decision, rev, groups)
    evidence = {
        "template": decision.wikitext,
        "ordinal": decision.ordinal,
        "revid": rev.revid if rev else None,
        "author": actor,
    }
    if not auth.allowed:
        _ignore(item, decision, actor, auth.reason, evidence, catalog)
        return
    if decision.kind == "recheck":
        _recheck(item, decision, actor or "?", evidence, fresh_users, now, s, catalog)
        return
    reason = (decision.params.get("1") or decision.params.get("reason") or "").strip()
    override = (decision.params.get("override") or "").strip()
    held_from = item.record.detail.get("held_from") if item.record else None
    outcome = after_decision(
        State(item.state),
        decision.kind,
        override=override,
        held_from=State(held_from) if held_from else None,
    )
    if not outcome.acted:
        _ignore(item, decision, actor, outcome.code, evidence, catalog)
        return
    assert actor is not None and rev is not None
    text = replies.decision(
        catalog,
        outcome.code,
        admin=actor,
        requester=item.requester,
        reason=override if decision.kind == "approve" else reason,
        bridge_url=s.bridge_url,
    )
    if decision.kind == "hold":
        detail = dict(item.values.get("detail") or (item.record.detail if item.record else {}))
        detail["held_from"] = item.state
        item.values["detail"] = detail
    if decision.kind == "approve":
        item.values.update(approved_by=actor, approval_revid=rev.revid, override=override or None)
    item.set_state(outcome.state, text)
    item.audit.append(
        (
            actor,
            f"decision:{decision.kind}",
            {**evidence, "outcome": outcome.code, "override": override or None},
        )
    )
    _remember(item, decision, rev, True, outcome.code)


def _recheck(
    item: Planned,
    decision: page.Decision,
    actor: str,
    evidence: dict[str, Any],
    fresh_users: Mapping[str, UserRecord | str],
    now: datetime,
    s: ClerkSettings,
    catalog: Catalog,
) -> None:
    if item.state not in REEVALUATED_ON_EDIT:
        _ignore(item, decision, actor, "not-recheckable", evidence, catalog)
        return
    prefix = catalog.text("reply", "rechecked", actor=replies.user_link(actor))
    judging.judge([item], fresh_users, {}, now, s, prefix={id(item): prefix})
    item.audit.append((actor, "decision:recheck", evidence))
    _remember(item, decision, None, True, "rechecked", actor=actor, revid=evidence["revid"])


def _ignore(
    item: Planned,
    decision: page.Decision,
    actor: str | None,
    why: str,
    evidence: dict[str, Any],
    catalog: Catalog,
) -> None:
    text = replies.ignored(catalog, decision.wikitext, actor, why, state=item.state)
    item.replies.append((item.state, text))
    item.audit.append((actor or "?", "ignored-decision", {**evidence, "why": why}))
    _remember(item, decision, None, False, why, actor=actor, revid=evidence["revid"])


def _remember(
    item: Planned,
    decision: page.Decision,
    rev: Origin | None,
    honoured: bool,
    reason: str,
    *,
    actor: str | None = None,
    revid: int | None = None,
) -> None:
    item.decisions.append(
        {
            "kind": decision.kind,
            "params": dict(decision.params),
            "wikitext": decision.wikitext,
            "ordinal": decision.ordinal,
            "revid": rev.revid if rev else revid,
            "actor": (rev.user if rev else actor) or "",
            "honoured": honoured,
            "reason": reason,
        }
    )
