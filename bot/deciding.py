"""Decisions on-wiki, honoured only when the page history proves who made them.

For every decision template on the page that the store has not seen, `Deciding`
takes as its author the user who introduced it in that request (`bot.provenance`:
its first appearance in the page's whole history, followed through removals and
restores; a line brought back by a revert is never the reverting user's) and asks
`policies.decisions` whether that user may add it. Allowed decisions move the request
(`membership.lifecycle`); the rest are ignored, written to the audit log and answered
on the page with the reason. Each template instance is acted on once: the store
remembers it, honoured or not.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot import page, replies, wiki
from bot.judging import Judging, Planned
from bot.messages import Catalog
from membership.lifecycle import after_decision
from membership.states import REEVALUATED_ON_EDIT, State
from membership.store import Store
from policies.decisions import authorize

if TYPE_CHECKING:
    from bot.clerk import ClerkSettings


class Deciding:
    def __init__(self, site: Any, store: Store, settings: ClerkSettings, judging: Judging) -> None:
        self.site = site
        self.store = store
        self.settings = settings
        self.judging = judging

    def apply(self, planned: list[Planned], current: wiki.PageRevision, now: datetime) -> None:
        new: list[tuple[Planned, page.Decision]] = []
        for item in planned:
            known = (
                {(d.wikitext, d.ordinal) for d in self.store.decisions(item.record.id)}
                if item.record
                else set()
            )
            new.extend(
                (item, d) for d in item.section.decisions if (d.wikitext, d.ordinal) not in known
            )
        if not new:
            return
        authorship = self.judging.authorship
        found = [(item, d, authorship.decision_origin(item.section, d)) for item, d in new]
        # A template first seen in a revert belongs to nobody: it counts for nobody.
        found = [(item, d, rev if rev and rev.user else None) for item, d, rev in found]
        groups = self._groups({rev.user for _, _, rev in found if rev})
        for item, decision, rev in found:
            self._one(item, decision, rev, groups.get(rev.user, ()) if rev else (), now)

    def _groups(self, users: set[str]) -> dict[str, tuple[str, ...]]:
        """Wiki groups of the decision authors, only when the policy names a group."""
        if not self.settings.policy.admin_group or not users:
            return {}
        return wiki.user_groups(self.site, sorted(users))

    def _one(
        self,
        item: Planned,
        decision: page.Decision,
        rev: Any,
        groups: tuple[str, ...],
        now: datetime,
    ) -> None:
        s = self.settings
        actor = rev.user if rev else None
        catalog = Catalog(item.lang)
        auth = authorize(
            s.policy,
            decision.kind,
            actor,
            requester=item.requester,
            subject=item.subject,
            actor_groups=groups,
        )
        evidence = {
            "template": decision.wikitext,
            "ordinal": decision.ordinal,
            "revid": rev.revid if rev else None,
            "author": actor,
        }
        if not auth.allowed:
            self._ignore(item, decision, actor, auth.reason, evidence, catalog)
            return
        if decision.kind == "recheck":
            self._recheck(item, decision, actor or "?", evidence, now, catalog)
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
            self._ignore(item, decision, actor, outcome.code, evidence, catalog)
            return
        assert actor is not None
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
            item.values.update(
                approved_by=actor, approval_revid=rev.revid, override=override or None
            )
        item.set_state(outcome.state, text)
        item.audit.append(
            (
                actor,
                f"decision:{decision.kind}",
                {**evidence, "outcome": outcome.code, "override": override or None},
            )
        )
        self._remember(item, decision, rev, True, outcome.code)

    def _recheck(
        self,
        item: Planned,
        decision: page.Decision,
        actor: str,
        evidence: dict[str, Any],
        now: datetime,
        catalog: Catalog,
    ) -> None:
        if item.state not in REEVALUATED_ON_EDIT:
            self._ignore(item, decision, actor, "not-recheckable", evidence, catalog)
            return
        prefix = catalog.text("reply", "rechecked", actor=replies.user_link(actor))
        self.judging.judge([item], now, fresh=True, prefix={id(item): prefix})
        item.audit.append((actor, "decision:recheck", evidence))
        self._remember(
            item, decision, None, True, "rechecked", actor=actor, revid=evidence["revid"]
        )

    def _ignore(
        self,
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
        self._remember(item, decision, None, False, why, actor=actor, revid=evidence["revid"])

    def _remember(
        self,
        item: Planned,
        decision: page.Decision,
        rev: Any,
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
