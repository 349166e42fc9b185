"""Judging requests: who filed them, whether they are well-formed, whether eligible. Pure.

The functions here fill in what a cycle plans for each request section
(`bot.rules.planned.Planned`) from plain data and do no I/O: `attribute` takes the
requester of a new request from the page history (`bot.rules.history.History`:
whoever saved the revision that first held it, followed through reverts); `judge` validates the
template's fields and applies the eligibility policy to the user records the clerk
looked up beforehand (`lookups_needed` says whose). Writing the outcome is
`bot.recording`'s; looking users up is `bot.lookups`'.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bot.rules import page, replies
from bot.rules.history import History
from bot.rules.messages import Catalog
from bot.rules.planned import Planned
from bot.rules.settings import ClerkSettings
from membership.states import State
from policies.eligibility import UserRecord, evaluate, only_uncertain
from policies.requests import validate
from policies.usernames import canonical_username


def fields_hash(section: page.RequestSection) -> str:
    """What the requester asked for: the template's fields, not the discussion around."""
    data = json.dumps(
        [section.template_count, dict(section.fields or {})], sort_keys=True, ensure_ascii=False
    )
    return hashlib.sha256(data.encode()).hexdigest()


def attribute(items: list[Planned], history: History, bot_user: str) -> list[Planned]:
    """The requester of each new request: whoever saved the revision that first held
    it (the origin of its identity, followed through reverts and restores)."""
    for item in items:
        rev = history.origin(item.section.key)
        user = rev.user if rev else ""
        item.values.update(
            requester=user,
            intro_revid=rev.revid if rev else None,
            intro_timestamp=rev.timestamp if rev else None,
        )
        item.audit.append(
            (
                bot_user,
                "attributed",
                {
                    "requester": user or None,
                    "revid": rev.revid if rev else None,
                    "identity": item.section.key,
                    "signed": item.section.signed,
                },
            )
        )
    return items


def subject_of(item: Planned) -> str:
    """Whom the request is for: the template's username, else whoever filed it."""
    fields = item.section.fields or {}
    return _username(fields.get("username", "")) or item.requester


def lookups_needed(items: list[Planned]) -> list[str]:
    """The users `judge` will need records of: subjects of well-formed requests."""
    names = []
    for item in items:
        subject = subject_of(item)
        if subject and not validate(item.section.fields, item.section.template_count):
            names.append(subject)
    return list(dict.fromkeys(names))


def judge(
    items: list[Planned],
    users: Mapping[str, UserRecord | str],
    last_replies: Mapping[int, tuple[str, str]],
    now: datetime,
    settings: ClerkSettings,
    *,
    prefix: Mapping[int, str] | None = None,
) -> list[Planned]:
    """Validate and evaluate each item against `users` (a record, or why the look-up
    failed, by name); a reply equal to the request's last one (`last_replies`, by
    request id) is not repeated. `prefix` (by `id(item)`) opens an item's reply."""
    to_check: list[Planned] = []
    for item in items:
        fields = item.section.fields or {}
        subject = subject_of(item)
        item.values.update(
            subject=subject,
            type=fields.get("type", "").strip().lower(),
            lang=(fields.get("lang") or "").strip().lower() or settings.content_lang or "en",
        )
        catalog = Catalog(item.lang, settings.content_lang)
        problems = validate(item.section.fields, item.section.template_count)
        if problems:
            _verdict(
                item,
                State.INVALID,
                replies.invalid(catalog, problems, item.requester or subject),
                {"problems": [p.code for p in problems]},
                settings.bot_user,
                last_replies,
                prefix,
            )
        elif not subject:
            _verdict(
                item,
                State.RECEIVED,
                replies.received(catalog, catalog.text("why", "unknown-author")),
                {"reason": "unattributed"},
                settings.bot_user,
                last_replies,
                prefix,
            )
        else:
            to_check.append(item)
    for item in to_check:
        _evaluate(item, users.get(item.values["subject"]), last_replies, now, settings, prefix)
    return items


def _evaluate(
    item: Planned,
    user: UserRecord | str | None,
    last_replies: Mapping[int, tuple[str, str]],
    now: datetime,
    s: ClerkSettings,
    prefix: Mapping[int, str] | None,
) -> None:
    catalog = Catalog(item.lang, s.content_lang)
    subject = item.values["subject"]
    if user is None or isinstance(user, str):  # the look-up failed: next cycle
        reason = user or "no answer"
        _verdict(
            item,
            State.RECEIVED,
            replies.received(catalog, reason),
            {"reason": reason},
            s.bot_user,
            last_replies,
            prefix,
        )
        return
    verdict = evaluate(s.policy, user, now)
    if only_uncertain(verdict, user):  # the missing edits may be on a silent wiki
        reason = replies.unreachable(catalog, user.unreachable)
        _verdict(
            item,
            State.RECEIVED,
            replies.received(catalog, reason),
            {"reason": reason, "unreachable": list(user.unreachable)},
            s.bot_user,
            last_replies,
            prefix,
        )
        return
    evidence = {"verdict": [c.__dict__ for c in verdict.criteria], "source": user.source}
    if verdict.eligible:
        text = replies.awaiting_identity(catalog, verdict, now, subject, s.bridge_url)
        state = State.AWAITING_IDENTITY
    else:
        text = replies.not_eligible(catalog, verdict, now)
        state = State.NOT_ELIGIBLE
    if item.requester and item.requester != subject:
        text = replies.on_behalf(catalog, item.requester, subject) + " " + text
    _verdict(item, state, text, evidence, s.bot_user, last_replies, prefix)


def _verdict(
    item: Planned,
    state: State,
    text: str,
    evidence: dict[str, Any],
    bot_user: str,
    last_replies: Mapping[int, tuple[str, str]],
    prefix: Mapping[int, str] | None,
) -> None:
    item.values.update(state=str(state), detail=evidence)
    if prefix and id(item) in prefix:
        text = prefix[id(item)] + " " + text
        item.replies.append((str(state), text))
    else:
        last = last_replies.get(item.record.id) if item.record else None
        if last != (str(state), text):
            item.replies.append((str(state), text))
    item.audit.append((bot_user, f"evaluated:{state}", evidence))


def _username(name: str) -> str:
    name = " ".join(name.replace("_", " ").split())
    for prefix in ("User:", "user:"):
        name = name.removeprefix(prefix)
    return canonical_username(name) if name else ""
