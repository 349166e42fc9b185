"""The mail to an account's holders when its tool databases go over the chapter's limit
(MariaDB does not enforce one): a tool's maintainers in good standing, or the member
whose databases they are, at `SHELLNAME@[mail] recipient_domain`, as for jobs' mails.

`notice` is the databases service's `databases.sizes.Notice`, called inside the
transaction that records the measurement finding the account over the limit: it queues
one mail in the outbox the jobs service sends (runtime/mail.py's `MailSender`), keyed
by the account's user and the crossing's number, so each crossing is mailed once. It is
worded in the language of the request that made the tool (or of the member's newest
request) with the `ats-mail-database-*` messages, and says the total, the limit, each
database's size and what to do — nothing of the databases' contents.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

from babel.numbers import format_decimal

from membership.records import DatabaseUsage
from runtime.mail import (
    DEFAULT_LANGUAGE,
    MailConfig,
    Words,
    language_of,
    mail_text,
    recipients,
    resolve,
    shown,
)

log = logging.getLogger(__name__)

EVENT = "databases-over-limit"  # the outbox's event; its job is "" (no job)
MB = 1024 * 1024


def addresses(store: Any, usage: DatabaseUsage, domain: str) -> tuple[str, ...]:
    """Whom the mail goes to: a tool's maintainers in good standing, or the member."""
    if usage.kind == "tool":
        return recipients(store, usage.name, domain)
    account = store.account_of(usage.owner, "person")
    if account is None or account.suspended:
        return ()
    return (f"{account.shell_name}@{domain}",)


def language(store: Any, usage: DatabaseUsage) -> str:
    """The tool request's language for a tool; the member's newest request's for a member."""
    if usage.kind == "tool":
        return language_of(store, usage.name)
    theirs = [record for record in store.requests() if record.subject == usage.owner]
    return resolve(max(theirs, key=lambda r: r.id).lang) if theirs else DEFAULT_LANGUAGE


def compose(usage: DatabaseUsage, lang: str = DEFAULT_LANGUAGE) -> Words:
    """The mail about `usage`, which has just gone over its limit, in `lang`."""

    def text(key: str, **args: object) -> str:
        return mail_text(key, lang, **args)

    when = shown(datetime.fromisoformat(usage.observed_at))
    size, limit = _size(usage.total, lang), _size(usage.limit, lang)
    over = "database-over-tool" if usage.kind == "tool" else "database-over-member"
    lines = [text(over, account=usage.name, size=size, limit=limit, time=when), ""]
    lines.append(text("database-list", user=usage.user))
    lines += [f"    {name}: {_size(bytes_, lang)}" for name, bytes_ in usage.databases]
    lines += ["", text("database-what")]
    if usage.kind == "tool":
        lines += ["", text("database-look"), "", f"    become {usage.name}"]
        lines.append("    toolforge jobs quota")
    lines += ["", "-- ", text("database-footer", account=usage.name)]
    return Words(text("database-subject", account=usage.name), "\n".join(lines) + "\n")


def notice(
    store: Any, settings: MailConfig, usage: DatabaseUsage, *, now: datetime | None = None
) -> None:
    """Queue the mail about `usage` going over the limit, when a relay is configured (the
    databases service's `Notice`, with `[mail]` given first: see `notices`)."""
    if not settings.relay:
        return
    try:
        to = addresses(store, usage, settings.recipient_domain)
        words = compose(usage, language(store, usage))
    except Exception:  # a mail that cannot be written must not undo the measurement
        log.exception("%s: the mail about its databases over the limit is not sent", usage.name)
        return
    if not to:
        log.info("%s: nobody in good standing to mail about its databases", usage.name)
        return
    key = f"{usage.user}/{usage.crossings}"
    store.queue_tool_job_mail(
        usage.name, "", key, EVENT, to, words.subject, words.body, now or datetime.now(UTC)
    )


def notices(settings: MailConfig) -> Callable[[Any, DatabaseUsage], None]:
    """The databases service's notice (`databases.sizes.Notice`), mailing through
    `settings`."""
    return partial(_notice, settings)


def _notice(settings: MailConfig, store: Any, usage: DatabaseUsage) -> None:
    notice(store, settings, usage)


def _size(size: int, lang: str) -> str:
    """A size in megabytes with one decimal, as `lang` writes it (12.3 MB, 12,3 Mo)."""
    number = format_decimal(size / MB, format="#,##0.0", locale=lang)
    return mail_text("database-size", lang, size=number)
