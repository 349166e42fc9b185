"""Writing the bot's replies: from verdicts and problems to one line of wikitext.

Pure. Each function returns the reply text without the signature; `reply_line`
wraps it as `:{{ATS status|STATE}} text ~~~~`. Everything that came from a user (a
block reason, a field value) is wrapped in <nowiki> so that no one can make the
bot write a template, a link or a decision it did not mean to.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime

from bot.rules.messages import Catalog
from policies.eligibility import Criterion, Verdict
from policies.requests import Problem


def nowiki(value: object) -> str:
    # A reply is one line: a newline in a user's value would end the indented reply
    # (and could start a heading or a list item on the page).
    text = " ".join(str(value).split()).replace("<", "&lt;").replace(">", "&gt;")
    return f"<nowiki>{text}</nowiki>" if text else ""


_NOT_IN_USERNAMES = frozenset("[]{}|#<>\n")


def user_link(name: str) -> str:
    # Real usernames cannot hold [ ] { } | # < > or ~~~, so a link to one cannot be
    # broken out of. A name typed by a requester (the username field) may hold them:
    # it is then shown as inert text instead of a link.
    if _NOT_IN_USERNAMES.intersection(name) or "~~~" in name:
        return nowiki(name)
    return f"[[User:{name}|{name}]]"


def reply_line(status_template: str, state: str, text: str) -> str:
    return f":{{{{{status_template}|{state}}}}} {text} ~~~~"


def reply_prefix(status_template: str, state: str, text: str) -> str:
    """What a posted reply starts with once MediaWiki has expanded the signature."""
    return f":{{{{{status_template}|{state}}}}} {text}"


def mention(catalog: Catalog, name: str) -> str:
    return f"{user_link(name)}: "


def invalid(catalog: Catalog, problems: Sequence[Problem], requester: str) -> str:
    parts = [_problem(catalog, p) for p in problems]
    joined = catalog.text("criterion", "problem_joiner").join(parts)
    text = catalog.text("reply", "invalid", mention=mention(catalog, requester), problems=joined)
    return _noted(catalog, text)


def _problem(catalog: Catalog, problem: Problem) -> str:
    args = {
        k: nowiki(v) if k in ("type", "tool", "license") else v for k, v in problem.args.items()
    }
    if "field" in args:
        args["field"] = f"<code>{args['field']}</code>"
    return catalog.text("problem", problem.code, **args)


def not_eligible(catalog: Catalog, verdict: Verdict, now: datetime) -> str:
    failed = [describe(catalog, c, verdict.username, now) for c in verdict.failed]
    passed = [
        describe(catalog, c, verdict.username, now)
        for c in verdict.criteria
        if c.passed and c.name != "account"
    ]
    met = catalog.text("reply", "met", passed=_join(catalog, passed)) if passed else ""
    text = catalog.text("reply", "not_eligible", failed=_join(catalog, failed), met=met)
    return _noted(catalog, text)


def awaiting_identity(
    catalog: Catalog, verdict: Verdict, now: datetime, subject: str, bridge_url: str
) -> str:
    checked = [
        describe(catalog, c, verdict.username, now) for c in verdict.criteria if c.name != "account"
    ]
    text = catalog.text(
        "reply",
        "awaiting_identity",
        mention=mention(catalog, subject),
        checked=_join(catalog, checked),
        bridge_url=bridge_url,
    )
    return _noted(catalog, text)


def unreachable(catalog: Catalog, wikis: Sequence[str]) -> str:
    """Why recent activity could not be judged: the wikis that did not answer."""
    return catalog.text("criterion", "unreachable", wikis=_join(catalog, list(wikis)))


def received(catalog: Catalog, reason: str) -> str:
    return _noted(catalog, catalog.text("reply", "received", reason=nowiki(reason)))


def language_note(catalog: Catalog) -> str:
    """Why a reply is not in the language the request asked for, or "" when it is."""
    if not catalog.fell_back:
        return ""
    asked = catalog.language_name(catalog.requested) or nowiki(catalog.requested)
    answered = catalog.language_name(catalog.lang) or catalog.lang
    return catalog.text("reply", "language_fallback", asked=asked, answered=answered)


def _noted(catalog: Catalog, text: str) -> str:
    # Said with the bot's first answers to a request (the verdict), not on every reply.
    note = language_note(catalog)
    return f"{text} {note}" if note else text


def on_behalf(catalog: Catalog, requester: str, subject: str) -> str:
    return catalog.text(
        "reply", "on_behalf", requester=user_link(requester), subject=user_link(subject)
    )


def describe(catalog: Catalog, criterion: Criterion, username: str, now: datetime) -> str:
    """One criterion as the requester should read it, with the figures behind it."""
    c, e = criterion, criterion.evidence
    if c.name == "account":
        key = {
            "missing": "account_missing",
            "invalid": "account_invalid",
            "hidden": "account_hidden",
        }.get(str(c.found), "account_missing")
        return catalog.text("criterion", key, name=nowiki(username))
    if c.name == "edits":
        if not c.passed:
            return catalog.text(
                "criterion",
                "edits_short",
                found=_n(c.found),
                required=_n(c.required),
                shortfall=_n(c.shortfall),
            )
        if e.get("wikis", 1) > 1:
            return catalog.text(
                "criterion", "edits_central", found=_n(c.found), wikis=_n(e["wikis"])
            )
        return catalog.text("criterion", "edits", found=_n(c.found))
    if c.name == "age":
        if c.found is None:
            return catalog.text("criterion", "age_unknown")
        args = {
            "age": age(catalog, int(c.found)),
            "registered": e.get("registered"),
            "required": _n(c.required),
            "shortfall": _n(c.shortfall),
        }
        return catalog.text("criterion", "age" if c.passed else "age_short", **args)
    if c.name == "recent":
        args = {
            "found": _n(c.found),
            "window": _n(e.get("window_days")),
            "required": _n(c.required),
            "shortfall": _n(c.shortfall),
        }
        key = "recent" if c.passed else "recent_short"
        if e.get("wikis"):
            key += "_on"
            args["wikis"] = _join(catalog, [str(w) for w in e["wikis"]])  # safe labels
        text = catalog.text("criterion", key, **args)
        if e.get("unreachable"):
            text += " " + catalog.text(
                "criterion", "silent", wikis=_join(catalog, [str(w) for w in e["unreachable"]])
            )
        return text
    if c.name == "blocks":
        blocks = e.get("blocks", [])
        if not blocks:
            return catalog.text("criterion", "no_blocks")
        return _join(catalog, [_block(catalog, b) for b in blocks])
    if c.name == "lock":
        return catalog.text("criterion", "not_locked" if c.passed else "locked")
    return c.name


def _block(catalog: Catalog, block: dict) -> str:
    where = (
        catalog.text("criterion", "blocked_on", wiki=nowiki(block["wiki"]))
        if block.get("wiki")
        else catalog.text("criterion", "blocked_here")
    )
    args = {
        "where": where,
        "reason": nowiki(block.get("reason") or catalog.text("decision", "no_reason")),
        "expiry": _expiry(catalog, block.get("expiry", "")),
    }
    if not block.get("by"):  # CentralAuth names the wiki, not who blocked
        return catalog.text("criterion", "blocked_unsigned", **args)
    return catalog.text("criterion", "blocked", by=user_link(block["by"]), **args)


def _expiry(catalog: Catalog, value: str) -> str:
    if not value or value in ("infinite", "infinity"):
        return catalog.text("criterion", "never")
    return value.replace("T", " ").replace("Z", " UTC")


def age(catalog: Catalog, days: int) -> str:
    if days >= 365:
        return catalog.text("age", "years", n=days // 365)
    if days >= 60:
        return catalog.text("age", "months", n=days // 30)
    return catalog.text("age", "days", n=days)


def _n(value: object) -> object:
    # A number stays a number: the catalog writes it in the reply's language and
    # chooses PLURAL forms by it.
    return value if isinstance(value, int) else str(value)


def _join(catalog: Catalog, parts: Sequence[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return (
        catalog.text("criterion", "joiner").join(parts[:-1])
        + catalog.text("criterion", "last_joiner")
        + parts[-1]
    )


def decision(
    catalog: Catalog, code: str, *, admin: str, requester: str, reason: str, bridge_url: str
) -> str:
    """The reply to a decision that was honoured."""
    return catalog.text(
        "decision",
        code,
        admin=user_link(admin),
        actor=user_link(admin),
        mention=mention(catalog, requester),
        reason=nowiki(reason) if reason else catalog.text("decision", "no_reason"),
        gates=catalog.text("decision", "gates", bridge_url=bridge_url),
    )


def ignored(catalog: Catalog, template: str, actor: str | None, why: str, *, state: str) -> str:
    """The reply to a decision template that was not honoured, saying why."""
    who = user_link(actor) if actor else "?"
    # The template is shown, never live: nowiki, with its own nowiki tags defused.
    shown = " ".join(template.split()).replace("<", "&lt;").replace(">", "&gt;")
    return catalog.text(
        "decision", "ignored", template=shown, actor=who, why=catalog.text("why", why, state=state)
    )


def forged_status(catalog: Catalog, bot: str, author: str, state: str) -> str:
    """The answer to a status line (or status markup) the bot did not write."""
    added = (
        catalog.text("reply", "forged_by", author=user_link(author))
        if author
        else catalog.text("reply", "forged_unknown")
    )
    return catalog.text("reply", "forged_status", bot=user_link(bot), added=added, state=state)


def expired(catalog: Catalog, days: int) -> str:
    return catalog.text("reply", "expired", days=days)


def prefixed(catalog: Catalog, key: str, text: str, **args: object) -> str:
    return catalog.text("reply", key, **args) + " " + text


# The requester's gates, in the order a reply lists them: each is said once, either
# as a step left to do or (the fee and identification) as a public fact once done.
_TODO = ("terms", "ssh-key", "fee", "identification", "licence", "maintainers")


def progress(
    catalog: Catalog,
    state: str,
    gates: Mapping[str, bool],
    *,
    requester: str,
    admin: str,
    bridge_url: str,
    account: str = "",
    login_host: str = "",
    login: str = "",
    tool: str = "",
) -> str:
    """A state reached off-wiki (the bridge), said on-wiki without a private fact.

    The fee shows only as settled or pending (never how), identification only as
    received or pending (never by whom or how). Each gate is named once: a step
    still to do is not repeated among the facts.
    """
    if state == "awaiting-identity":
        facts = [_fact(catalog, gates, "fee"), _fact(catalog, gates, "identification")]
        return catalog.text(
            "progress",
            state,
            mention=mention(catalog, requester),
            bridge_url=bridge_url,
            rest=_bracketed(facts),
        )
    if state == "awaiting-requester":
        # A tool's own gates count only on a tool request (they are absent otherwise).
        todo = [
            catalog.text("progress", f"gate-{g}")
            for g in _TODO
            if not gates.get(g, g in ("licence", "maintainers"))
        ]
        done = [_fact(catalog, gates, g) for g in ("fee", "identification") if gates.get(g)]
        return catalog.text(
            "progress",
            state,
            mention=mention(catalog, requester),
            bridge_url=bridge_url,
            todo=", ".join(todo) or catalog.text("progress", "nothing"),
            rest=_bracketed(done),
        )
    if state == "awaiting-approval":
        done = [
            catalog.text("progress", "terms-done"),
            catalog.text("progress", "ssh-key-done"),
            _fact(catalog, gates, "fee"),
            _fact(catalog, gates, "identification"),
        ]
        return catalog.text("progress", state, done=", ".join(done))
    if state == "approved":
        return catalog.text("progress", state, admin=user_link(admin) if admin else "?")
    if state in ("provisioning", "failed"):
        return catalog.text("progress", state)
    if state == "done":
        return catalog.text(
            "progress",
            state,
            mention=mention(catalog, requester),
            account=nowiki(account or "?"),
            commands=_first_commands(catalog, login or account, login_host, tool),
            bridge_url=bridge_url,
        )
    return catalog.text("progress", "other", state=state)


def _fact(catalog: Catalog, gates: Mapping[str, bool], gate: str) -> str:
    if gate == "fee":
        return catalog.text("progress", "fee-settled" if gates.get("fee") else "fee-pending")
    received = "received" if gates.get("identification") else "pending"
    return catalog.text("progress", f"identification-{received}")


def _bracketed(facts: Sequence[str]) -> str:
    return " (" + "; ".join(facts) + ")" if facts else ""


# What can be typed on a login host as it is: a login, host or tool name holding
# anything else is not put in a command the reply tells people to run.
_COMMAND_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def _first_commands(catalog: Catalog, login: str, host: str, tool: str) -> str:
    """`ssh LOGIN@HOST` (and `become TOOL` for a tool): what the new member types first;
    "" when the host is not configured."""
    words = (login, host) + ((tool,) if tool else ())
    if not all(_COMMAND_WORD.fullmatch(w) for w in words):
        return ""
    if tool:
        return catalog.text("progress", "done_tool", login=login, host=host, tool=tool)
    return catalog.text("progress", "done_host", login=login, host=host)
