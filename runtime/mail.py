"""Mails to a tool's maintainers about its jobs' runs, as Toolforge sends them for
`toolforge jobs run --emails none|all|onfinish|onfailure`: what is mailed, to whom, in
which words, and the sender that hands the mails to the chapter's relay.

`notice` is the controller's `Notice` (runtime/controller.py), called inside the
transaction that records a run's start or end: when the job's `emails` asks for the
event (`all`: every start and end; `onfinish`: every end; `onfailure`: ends that
failed) and a relay is configured, it queues one mail in the store's outbox, so the
mail is recorded exactly when the event is, once. It goes to the tool's maintainers
(`membership.maintainers.maintainers_of`) who hold a shell account that is not
suspended, at `SHELLNAME@[mail] recipient_domain`, which the relay forwards; it is
worded in the language of the tool request that made the tool (English for a tool
made otherwise) with the `ats-mail-*` messages of `i18n/`, and says the tool, the job,
what happened and when, and how to look (`become`, `toolforge jobs show|logs`) —
nothing of the job's output, its command or its environment.

`MailSender.send_due` (and `send_due`) hands the due mails to the relay over SMTP
(STARTTLS and a login when configured). Each mail's Message-ID is derived from its
outbox key, so a mail sent again after a crash between sending and marking it is the
same message to whoever reads it. A relay that is down or refuses is tried again later,
waiting twice as long each time, and said in one log line.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import smtplib
import socket
import ssl
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from functools import cache, partial
from typing import Any, Protocol

from membership.maintainers import maintainers_of, tool_requests
from membership.records import ToolJobMail, ToolJobRecord
from policies import message_files
from policies.message_format import render
from policies.message_parameters import PARAMETERS
from runtime.controller import Notice
from runtime.jobspec import JobSpec

log = logging.getLogger(__name__)

PREFIX = "ats-mail-"
DEFAULT_LANGUAGE = "en"
SUCCESS = "COMPLETED"  # how a run that succeeded ended (runtime.slurm.SlurmJob.ending)
RETRY_FIRST = 30.0  # seconds before a mail the relay did not take is tried again
RETRY_MAX = 3600.0  # ... doubling each time up to this
BATCH = 20  # mails handed to the relay over one connection
KEEP_DAYS = 30  # mails sent or given up are forgotten after this


class MailConfig(Protocol):
    """What the mails need of `[mail]` (ats.config.MailSettings)."""

    @property
    def relay(self) -> str: ...
    @property
    def port(self) -> int: ...
    @property
    def starttls(self) -> bool: ...
    @property
    def username(self) -> str: ...
    @property
    def sender(self) -> str: ...
    @property
    def recipient_domain(self) -> str: ...
    @property
    def timeout(self) -> float: ...


# -- what is mailed ---------------------------------------------------------------------


def wanted(emails: str, event: str, facts: Mapping[str, Any]) -> bool:
    """Whether a job defined with `--emails emails` mails about `event` ("started" or
    "ended", with the controller's `facts`)."""
    if emails == "all":
        return event in ("started", "ended")
    if emails == "onfinish":
        return event == "ended"
    if emails == "onfailure":
        return event == "ended" and failed(facts)
    return False


def failed(facts: Mapping[str, Any]) -> bool:
    """Whether the run whose end `facts` record did not succeed."""
    return facts.get("exit") != SUCCESS


def recipients(store: Any, tool: str, domain: str) -> tuple[str, ...]:
    """The addresses of the tool's maintainers who hold a shell account that is not
    suspended: `SHELLNAME@domain`."""
    addresses = set()
    for person in maintainers_of(store, tool):
        account = store.account_of(person, "person")
        if account is not None and not account.suspended:
            addresses.add(f"{account.shell_name}@{domain}")
    return tuple(sorted(addresses))


def language_of(store: Any, tool: str) -> str:
    """The language of the tool request that made the tool (the newest, as
    `maintainers_of` reads it), when the mails speak it; else English."""
    made = [r for r in tool_requests(store) if r.fields.get("tool", "").strip() == tool]
    if not made:
        return DEFAULT_LANGUAGE
    return resolve(max(made, key=lambda r: r.id).lang)


def resolve(lang: str) -> str:
    """The language mails are written in for `lang`: itself, its base language
    (`de-at` → `de`), or English."""
    lang = (lang or "").strip().lower()
    available = languages()
    for candidate in (lang, lang.split("-")[0]):
        if candidate in available:
            return candidate
    return DEFAULT_LANGUAGE


@cache
def languages() -> frozenset[str]:
    """The languages whose message file holds the mails' messages."""
    return frozenset(
        path.stem
        for path in message_files.I18N_DIR.glob("*.json")
        if path.stem != "qqq" and _messages(path.stem)
    )


@dataclass(frozen=True)
class Words:
    subject: str
    body: str


def compose(
    tool: str,
    spec: JobSpec,
    event: str,
    facts: Mapping[str, Any],
    *,
    lang: str = DEFAULT_LANGUAGE,
    at: datetime | None = None,
) -> Words:
    """The mail about `event` of a run of the tool's job `spec`, in `lang`: the subject
    and the plain-text body. `at`: when it was started (for "started")."""

    def text(key: str, **args: object) -> str:
        return mail_text(key, lang, **args)

    job = spec.name
    if event == "started":
        what = "started"
        when = shown(at or datetime.now(UTC))
    else:
        what = "failed" if failed(facts) else "finished"
        ended = facts.get("ended_at")
        when = shown(datetime.fromisoformat(ended) if ended else at or datetime.now(UTC))
    ending = str(facts.get("exit") or "")
    lines = [text(what, tool=tool, job=job, time=when, ending=ending)]
    if event == "ended":
        hint = facts.get("hint")
        if hint and hint != f"the last run ended {ending}":  # said already, in other words
            lines.append(text("hint", hint=hint))
        upcoming = _next(spec, facts, text)
        if upcoming:
            lines.append(upcoming)
    lines += [
        "",
        text("look"),
        "",
        f"    become {tool}",
        f"    toolforge jobs show {job}",
        f"    toolforge jobs logs {job}",
        "",
        "-- ",
        text("footer", tool=tool, emails=spec.emails),
    ]
    return Words(text(f"subject-{what}", tool=tool, job=job), "\n".join(lines) + "\n")


def mail_text(key: str, lang: str = DEFAULT_LANGUAGE, **args: object) -> str:
    """The message `ats-mail-KEY` in `lang` (in English when `lang` lacks it), with its
    parameters by name."""
    name = PREFIX + key
    template = _messages(lang).get(name) or _messages(DEFAULT_LANGUAGE)[name]
    return render(template, [args[p] for p in PARAMETERS.get(name, ())], lang)


def _next(spec: JobSpec, facts: Mapping[str, Any], text: Callable[..., str]) -> str | None:
    """What the jobs service does next, after the run ended (runtime.decisions._ended)."""
    state = facts.get("state")
    if state == "backoff" and facts.get("not_before"):
        return text("next-backoff", time=shown(datetime.fromisoformat(facts["not_before"])))
    if state != "waiting":
        return None
    if spec.continuous:
        return text("next-restart")
    if facts.get("attempts"):
        return text("next-retry", retry=int(facts["attempts"]), retries=spec.retry)
    if spec.schedule:
        return text("next-scheduled", schedule=spec.schedule)
    return None


def shown(moment: datetime) -> str:
    """A moment as every language's mail writes it: `2026-03-01 12:00:05 UTC`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@cache
def _messages(lang: str) -> dict[str, str]:
    path = message_files.I18N_DIR / f"{lang}.json"
    if not path.is_file():
        return {}
    data = json.loads(path.read_text("utf-8"))
    return {key: text for key, text in data.items() if key.startswith(PREFIX)}


# -- queueing: the controller's notice --------------------------------------------------


def notice(
    store: Any,
    settings: MailConfig,
    event: str,
    record: ToolJobRecord,
    spec: JobSpec,
    facts: Mapping[str, Any],
    *,
    now: datetime | None = None,
) -> None:
    """Queue the mail about `event` when the job's `emails` asks for it and a relay is
    configured (the controller's `Notice`, with the store and `[mail]` given first:
    see `notices`). Called inside the transaction recording the event."""
    if not settings.relay or not wanted(spec.emails, event, facts):
        return
    try:
        to = recipients(store, record.tool, settings.recipient_domain)
        lang = language_of(store, record.tool)
        words = compose(record.tool, spec, event, facts, lang=lang, at=now)
        run = int(facts["run"]) if event == "started" else record.run
    except Exception:  # a mail that cannot be written must not undo the run's record
        log.exception(
            "%s/%s: the mail about the run %s is not sent", record.tool, record.name, event
        )
        return
    if not to:
        log.info("%s/%s: no maintainer in good standing to mail", record.tool, record.name)
        return
    store.queue_tool_job_mail(
        record.tool, record.name, run_key(record, run), event, to, words.subject, words.body, now
    )


def notices(store: Any, settings: MailConfig) -> Notice:
    """The controller's notice that queues mails in `store` (its own, so the mail is
    written in the controller's transaction) under `settings`."""
    return partial(notice, store, settings)


def run_key(record: ToolJobRecord, run: int) -> str:
    """Which run of which job: its number, its generation, and when the job was first
    defined (a job deleted and defined again starts counting afresh)."""
    return f"{record.created_at}/{record.generation}/{run}"


# -- sending ----------------------------------------------------------------------------


class MailSender:
    """Hands the outbox's due mails to the relay; one per thread (its store's too)."""

    def __init__(
        self,
        settings: MailConfig,
        *,
        password: str = "",
        claimer: str | None = None,
        batch: int = BATCH,
    ) -> None:
        self.settings = settings
        self.password = password
        self.claimer = claimer or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.batch = batch

    def send_due(self, store: Any, now: datetime | None = None) -> int:
        """Send the mails due (up to one batch); how many the relay took."""
        if not self.settings.relay:
            return 0
        moment = now or datetime.now(UTC)
        mails = store.claim_tool_job_mails(self.claimer, self.batch, moment)
        if not mails:
            return 0
        relay = f"{self.settings.relay}:{self.settings.port}"
        try:
            connection = self._connect()
        except OSError as error:  # smtplib's errors are OSErrors too
            waits = [self._retry(store, mail, _said(error), moment) for mail in mails]
            log.warning(
                "mail: the relay %s cannot take mail now (%s): %d mail(s) wait, next try %s",
                *(relay, _said(error), len(mails), waits[0]),
            )
            return 0
        sent = 0
        try:
            for index, mail in enumerate(mails):
                try:
                    sent += self._hand_over(connection, store, mail, moment)
                except OSError as error:  # the connection broke: this mail and the rest wait
                    retries = [
                        self._retry(store, left, _said(error), moment) for left in mails[index:]
                    ]
                    log.warning(
                        "mail: the relay %s went away (%s): %d mail(s) wait, next try %s",
                        *(relay, _said(error), len(retries), retries[0]),
                    )
                    break
        finally:
            _hang_up(connection)
        store.forget_tool_job_mails(moment - timedelta(days=KEEP_DAYS))
        return sent

    def _hand_over(
        self, connection: smtplib.SMTP, store: Any, mail: ToolJobMail, now: datetime
    ) -> bool:
        """Send one mail and mark it; whether the relay took it. A refusal is marked to
        be tried again; an OSError (the connection broke) is left to the caller."""
        try:
            refused = connection.send_message(
                message(mail, self.settings.sender),
                from_addr=self.settings.sender,
                to_addrs=list(mail.recipients),
            )
        except (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused) as error:
            retry = self._retry(store, mail, _said(error), now)
            log.warning(
                "mail #%d (%s/%s): the relay %s:%d refused it (%s); next try %s",
                *(mail.id, mail.tool, mail.job, self.settings.relay, self.settings.port),
                *(_said(error), retry),
            )
            return False
        note = _refused(refused)
        if note:
            log.warning("mail #%d (%s/%s): %s", mail.id, mail.tool, mail.job, note)
        store.mark_tool_job_mail_sent(mail.id, now, note=note)
        return True

    def _connect(self) -> smtplib.SMTP:
        settings = self.settings
        connection = smtplib.SMTP(settings.relay, settings.port, timeout=settings.timeout)
        try:
            if settings.starttls:
                connection.starttls(context=ssl.create_default_context())
            if settings.username:
                connection.login(settings.username, self.password)
        except BaseException:
            connection.close()
            raise
        return connection

    def _retry(self, store: Any, mail: ToolJobMail, error: str, now: datetime) -> str:
        """Queue `mail` again after its back-off; when (or that it was given up)."""
        wait = min(RETRY_FIRST * 2 ** max(0, mail.attempts - 1), RETRY_MAX)
        again = store.mark_tool_job_mail_failed(mail.id, error, now + timedelta(seconds=wait))
        if again is not None and again.state == "failed":
            log.warning(
                "mail #%d (%s/%s): given up after %d tries: %s",
                *(mail.id, mail.tool, mail.job, again.attempts, error),
            )
            return "never (given up)"
        return f"in {wait:.0f} s"


def send_due(
    store: Any, settings: MailConfig, *, password: str = "", now: datetime | None = None
) -> int:
    """Send the outbox's due mails through `settings`' relay; how many it took."""
    return MailSender(settings, password=password).send_due(store, now)


def message(mail: ToolJobMail, sender: str) -> EmailMessage:
    """The mail as sent: plain text, its Message-ID and Date fixed by the outbox row."""
    built = EmailMessage()
    built["From"] = sender
    built["To"] = ", ".join(mail.recipients)
    built["Subject"] = mail.subject
    built["Date"] = format_datetime(datetime.fromisoformat(mail.created_at).astimezone(UTC))
    built["Message-ID"] = message_id(mail, sender)
    built["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies
    built.set_content(mail.body)
    return built


def message_id(mail: ToolJobMail, sender: str) -> str:
    """The mail's Message-ID, from its outbox key: a mail sent twice is the same message."""
    key = "\0".join((mail.tool, mail.job, mail.run_key, mail.event))
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    domain = sender.rpartition("@")[2] or "localhost"
    return f"<tool-job-mail.{digest}@{domain}>"


def _hang_up(connection: smtplib.SMTP) -> None:
    """QUIT, whatever the relay answers (the mails are marked already)."""
    try:
        connection.quit()
    except OSError:
        connection.close()


def _refused(refused: Mapping[str, tuple[int, bytes]]) -> str | None:
    """The recipients the relay refused while taking the mail for the others."""
    if not refused:
        return None
    said = "; ".join(f"{to}: {code} {_text(reply)}" for to, (code, reply) in refused.items())
    return f"the relay refused some recipients ({said})"


def _said(error: BaseException) -> str:
    """An SMTP or network error in one line."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        refused: Sequence[str] = list(error.recipients)
        return f"every recipient refused ({', '.join(refused)})"
    if isinstance(error, smtplib.SMTPResponseException):
        return f"{error.smtp_code} {_text(error.smtp_error)}"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__


def _text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return " ".join(text.split())
