"""Judging requests: who filed them, whether they are well-formed, whether eligible.

`Planned` is what a cycle decided about one request section before anything is
written; `Judging` fills it in. The requester of a new request is the origin of its
identity (`bot.authorship`: whoever saved the revision that first held it, followed
through reverts); it validates the template's fields, looks the account up (batched,
cached in the store) and applies the eligibility policy, then `record` writes the
outcome, its audit entries and its replies to the store.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot import globalusers, page, replies, wiki
from bot.authorship import Authorship
from bot.messages import Catalog
from membership.states import CLOSED, State
from membership.store import RequestRecord, Store
from policies.eligibility import (
    AttachedWiki,
    Block,
    UserRecord,
    canonical_username,
    evaluate,
    only_uncertain,
)
from policies.requests import validate

if TYPE_CHECKING:
    from bot.clerk import ClerkSettings


@dataclass
class Planned:
    """What the cycle decided about one request section, before anything is written."""

    section: page.RequestSection
    record: RequestRecord | None
    values: dict[str, Any]
    replies: list[tuple[str, str]] = field(default_factory=list)  # (state, text)
    audit: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    decisions: list[dict[str, Any]] = field(default_factory=list)  # for Store.add_decision

    @property
    def state(self) -> str:
        return self.values.get("state") or (self.record.state if self.record else "")

    @property
    def requester(self) -> str:
        return self.values.get("requester") or (self.record.requester if self.record else "")

    @property
    def subject(self) -> str:
        return self.values.get("subject") or (self.record.subject if self.record else "")

    @property
    def lang(self) -> str:
        return self.values.get("lang") or (self.record.lang if self.record else "en")

    def changed_state(self) -> bool:
        return "state" in self.values and (
            self.record is None or self.values["state"] != self.record.state
        )

    def set_state(self, state: State, text: str) -> None:
        self.values["state"] = str(state)
        self.replies.append((str(state), text))


def fields_hash(section: page.RequestSection) -> str:
    """What the requester asked for: the template's fields, not the discussion around."""
    data = json.dumps(
        [section.template_count, dict(section.fields or {})], sort_keys=True, ensure_ascii=False
    )
    return hashlib.sha256(data.encode()).hexdigest()


class Judging:
    def __init__(self, site: Any, store: Store, settings: ClerkSettings) -> None:
        self.site = site
        self.store = store
        self.settings = settings
        self.authorship = Authorship(site, store, settings)

    # -- who filed it --------------------------------------------------------------

    def attribute(self, items: list[Planned]) -> None:
        """The requester of each new request: whoever saved the revision that first held
        it (the origin of its identity, followed through reverts and restores)."""
        for item in items:
            rev = self.authorship.origin(item.section.key)
            user = rev.user if rev else ""
            item.values.update(
                requester=user,
                intro_revid=rev.revid if rev else None,
                intro_timestamp=rev.timestamp if rev else None,
            )
            item.audit.append(
                (
                    self.settings.bot_user,
                    "attributed",
                    {
                        "requester": user or None,
                        "revid": rev.revid if rev else None,
                        "identity": item.section.key,
                        "signed": item.section.signed,
                    },
                )
            )

    # -- what it is worth ---------------------------------------------------------

    def judge(
        self,
        items: list[Planned],
        now: datetime,
        *,
        fresh: bool = False,
        prefix: dict[int, str] | None = None,
    ) -> None:
        """Validate and evaluate each item; `fresh` skips the user cache (recheck)."""
        to_check: list[Planned] = []
        for item in items:
            fields = item.section.fields or {}
            subject = _username(fields.get("username", "")) or item.requester
            item.values.update(
                subject=subject,
                type=fields.get("type", "").strip().lower(),
                lang=(fields.get("lang") or "en").strip() or "en",
            )
            catalog = Catalog(item.lang)
            problems = validate(item.section.fields, item.section.template_count)
            if problems:
                self._verdict(
                    item,
                    State.INVALID,
                    replies.invalid(catalog, problems, item.requester or subject),
                    {"problems": [p.code for p in problems]},
                    prefix,
                )
            elif not subject:
                self._verdict(
                    item,
                    State.RECEIVED,
                    replies.received(catalog, "the page history does not show who added it"),
                    {"reason": "unattributed"},
                    prefix,
                )
            else:
                to_check.append(item)
        if not to_check:
            return
        users = self.users([i.values["subject"] for i in to_check], now, fresh=fresh)
        s = self.settings
        for item in to_check:
            catalog = Catalog(item.lang)
            subject = item.values["subject"]
            user = users.get(subject)
            if user is None or isinstance(user, str):  # the look-up failed: next cycle
                reason = user or "no answer"
                self._verdict(
                    item,
                    State.RECEIVED,
                    replies.received(catalog, reason),
                    {"reason": reason},
                    prefix,
                )
                continue
            verdict = evaluate(s.policy, user, now)
            if only_uncertain(verdict, user):  # the missing edits may be on a silent wiki
                reason = replies.unreachable(catalog, user.unreachable)
                self._verdict(
                    item,
                    State.RECEIVED,
                    replies.received(catalog, reason),
                    {"reason": reason, "unreachable": list(user.unreachable)},
                    prefix,
                )
                continue
            evidence = {"verdict": [c.__dict__ for c in verdict.criteria], "source": user.source}
            if verdict.eligible:
                text = replies.awaiting_identity(catalog, verdict, now, subject, s.bridge_url)
                state = State.AWAITING_IDENTITY
            else:
                text = replies.not_eligible(catalog, verdict, now)
                state = State.NOT_ELIGIBLE
            if item.requester and item.requester != subject:
                text = replies.on_behalf(catalog, item.requester, subject) + " " + text
            self._verdict(item, state, text, evidence, prefix)

    def _verdict(
        self,
        item: Planned,
        state: State,
        text: str,
        evidence: dict[str, Any],
        prefix: dict[int, str] | None,
    ) -> None:
        item.values.update(state=str(state), detail=evidence)
        if prefix and id(item) in prefix:
            text = prefix[id(item)] + " " + text
            item.replies.append((str(state), text))
        else:
            last = self.store.last_reply(item.record.id) if item.record else None
            if last is None or (last.state, last.text) != (str(state), text):
                item.replies.append((str(state), text))
        item.audit.append((self.settings.bot_user, f"evaluated:{state}", evidence))

    def users(
        self, names: list[str], now: datetime, *, fresh: bool = False
    ) -> dict[str, UserRecord | str]:
        """UserRecords by name, from the cache or the wiki; a string where it failed."""
        s = self.settings
        found: dict[str, UserRecord | str] = {}
        if not fresh:
            for name in names:
                cached = self.store.cached_user(name, s.user_cache)
                if cached is not None:
                    found[name] = _record_from_cache(cached)
        wanted = [n for n in dict.fromkeys(names) if n not in found]
        if not wanted:
            return found
        try:
            fetched = self._fetch_users(wanted, now)
        except wiki.WikiError as error:
            return found | {n: f"the wiki did not answer the user look-up: {error}" for n in wanted}
        for name in wanted:
            record = fetched.get(name) or UserRecord(name, status="missing")
            found[name] = record
            if not record.unreachable:  # a partial count is asked again next time
                self.store.cache_user(name, _record_to_cache(record))
        return found

    def _fetch_users(self, names: list[str], now: datetime) -> dict[str, UserRecord]:
        policy = self.settings.policy
        if not wiki.has_central_auth(self.site):
            return wiki.local_users(
                self.site,
                names,
                recent_needed=policy.recent_edits,
                window_days=policy.recent_window_days,
                now=now,
            )
        return globalusers.look_up(
            self.site, names, policy, now, script_path=wiki.script_path(self.site)
        )

    # -- writing -------------------------------------------------------------------

    def record(self, item: Planned, now: datetime) -> RequestRecord:
        """Write one planned item: the request, its decisions, audit entries, replies."""
        s = self.settings
        stamp = now.isoformat(timespec="seconds")
        values = dict(item.values)
        if item.changed_state() or item.decisions:
            values["progress_at"] = stamp
        if item.changed_state() and values["state"] in CLOSED:
            values["closed_at"] = stamp
        if item.record is None:
            values.setdefault("state", str(State.RECEIVED))
            values.setdefault("progress_at", stamp)
            record = self.store.add_request(
                page=s.page, key=item.section.key, heading=item.section.heading, **_add_args(values)
            )
            extra = {k: values[k] for k in _LATER_COLUMNS if values.get(k) is not None}
            if extra:
                record = self.store.update_request(record.id, **extra)
            self.store.audit(
                values.get("requester") or "?",
                "filed",
                record.id,
                revid=values.get("intro_revid"),
                key=item.section.key,
            )
        else:
            record = self.store.update_request(item.record.id, **_update_args(values))
        for actor, action, evidence in item.audit:
            self.store.audit(actor, action, record.id, **evidence)
        for decision in item.decisions:
            self.store.add_decision(record.id, **decision)
        for state, text in item.replies:
            self.store.queue_reply(record.id, state, text)
        return record


def _username(name: str) -> str:
    name = " ".join(name.replace("_", " ").split())
    for prefix in ("User:", "user:"):
        name = name.removeprefix(prefix)
    return canonical_username(name) if name else ""


_ADD_KEYS = (
    "requester",
    "subject",
    "type",
    "fields",
    "content_hash",
    "intro_revid",
    "intro_timestamp",
    "state",
    "detail",
    "lang",
)
_LATER_COLUMNS = (
    "progress_at",
    "closed_at",
    "approved_by",
    "override",
    "approval_revid",
    "fields_hash",
)
_UPDATE_KEYS = (
    "heading",
    "subject",
    "type",
    "fields",
    "content_hash",
    "state",
    "detail",
    "lang",
    *_LATER_COLUMNS,
)


def _add_args(values: dict[str, Any]) -> dict[str, Any]:
    args = {k: values.get(k) for k in _ADD_KEYS}
    args["requester"] = args["requester"] or ""
    args["subject"] = args["subject"] or args["requester"]
    args["type"] = args["type"] or ""
    args["lang"] = args["lang"] or "en"
    args["fields"] = args["fields"] or {}
    args["detail"] = args["detail"] or {}
    return args


def _update_args(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k in _UPDATE_KEYS}


def _record_to_cache(record: UserRecord) -> dict[str, Any]:
    data = dict(record.__dict__)
    data["registration"] = record.registration.isoformat() if record.registration else None
    data["blocks"] = [b.__dict__ for b in record.blocks]
    data["attached"] = [a.__dict__ for a in record.attached]
    for key in ("groups", "counted_on", "unreachable"):
        data[key] = list(data[key])
    return data


def _record_from_cache(data: dict[str, Any]) -> UserRecord:
    values = dict(data)
    if values.get("registration"):
        values["registration"] = datetime.fromisoformat(values["registration"])
    values["blocks"] = tuple(Block(**b) for b in values.get("blocks", []))
    values["attached"] = tuple(AttachedWiki(**a) for a in values.get("attached", []))
    for key in ("groups", "counted_on", "unreachable"):
        values[key] = tuple(values.get(key, ()))
    known = set(UserRecord.__dataclass_fields__)
    return UserRecord(**{k: v for k, v in values.items() if k in known})
