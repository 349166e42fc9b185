"""Mails about tools' jobs reaching a real SMTP server (aiosmtpd, in this process, on
127.0.0.1): queued by the controller's notice in the transaction that records the event,
sent once with the right envelope and headers, kept when the relay is down or refuses
and delivered when it takes mail again, never sent twice by two senders at once, and
sent by `ats runtime serve`'s mail thread. No Slurm: the notice is called as the
controller calls it."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ats.config import MailSettings, config_from_mapping
from devtools.ports import free_port
from membership.records import ToolJobRecord
from membership.store import Store
from runtime import mail
from runtime.jobspec import JobSpec
from tests.builders import add_request
from tests.integration.smtp_relay import Relay

SPEC = JobSpec("feed", "python3 feed.py", "python3.11", emails="onfailure")
FAILED = {"exit": "FAILED: exit code 3", "state": "failed", "ended_at": "2026-03-01T12:30:00+00:00"}
T0 = datetime(2026, 3, 1, 12, 31, tzinfo=UTC)


@pytest.fixture
def relay() -> Iterator[Relay]:
    running = Relay(free_port())
    running.start()
    yield running
    running.stop()


@pytest.fixture
def tool(store: Store) -> Store:
    """The tool `bot`, made by Alice's tool request (in German), maintained by her and
    Bob (suspended), with the job `feed`."""
    store.record_account("bot", "tool", "bot", 6001)
    store.record_account("alice", "person", "Alice", 5001)
    store.record_account("bob", "person", "Bob", 5002)
    store.set_account_suspended("bob", "lapsed")
    fields = {"tool": "bot", "maintainers": "Bob"}
    add_request(store, "Alice", type="tool", state="done", fields=fields, lang="de")
    store.put_tool_job("bot", "feed", SPEC.to_text())
    return store


def job(store: Store) -> ToolJobRecord:
    found = store.tool_job("bot", "feed")
    assert found is not None
    return found


def end_run(store: Store, settings: MailSettings, run: int = 1, now: datetime | None = T0) -> None:
    """What the controller does when a run ends: record it and notice, in one transaction."""
    record = replace(job(store), run=run)
    with store.transaction():
        store.update_tool_job("bot", "feed", record.generation, FAILED)
        mail.notice(store, settings, "ended", record, SPEC, FAILED, now=now)


def test_a_queued_mail_arrives_once_with_the_right_envelope_and_headers(
    tool: Store, relay: Relay
) -> None:
    settings = relay.settings()
    end_run(tool, settings)
    end_run(tool, settings)  # the same event again: not queued twice
    assert mail.send_due(tool, settings, now=T0) == 1
    assert mail.send_due(tool, settings, now=T0 + timedelta(hours=1)) == 0
    [(sender, recipients, message)] = relay.inbox.received
    assert sender == "tools@ts.example" and recipients == ["alice@ts.example"]
    assert message["From"] == "tools@ts.example" and message["To"] == "alice@ts.example"
    assert message["Subject"] == "[bot] Der Job feed ist fehlgeschlagen"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Message-ID"].startswith("<tool-job-mail.")
    assert message["Message-ID"].endswith("@ts.example>")
    body = message.get_content()
    assert "Der Job feed des Werkzeugs bot ist am 2026-03-01 12:30:00 UTC fehlgeschlagen" in body
    assert "toolforge jobs logs feed" in body
    [sent] = tool.tool_job_mails()
    assert sent.state == "sent" and sent.attempts == 1


def test_a_relay_that_is_down_is_tried_later_and_gets_the_mail_when_back(
    tool: Store, caplog: pytest.LogCaptureFixture
) -> None:
    down = Relay(free_port())
    settings = down.settings()
    end_run(tool, settings)
    with caplog.at_level(logging.WARNING, logger="runtime.mail"):
        assert mail.send_due(tool, settings, now=T0) == 0
    [line] = caplog.records
    assert f"127.0.0.1:{down.port} cannot take mail now" in line.getMessage()
    assert "next try in 30 s" in line.getMessage() and line.exc_info is None
    [waiting] = tool.tool_job_mails()
    assert waiting.state == "queued" and waiting.last_error
    assert waiting.next_attempt_at == (T0 + timedelta(seconds=30)).isoformat()
    down.start()
    try:
        assert mail.send_due(tool, settings, now=T0 + timedelta(seconds=29)) == 0  # not yet
        assert down.inbox.received == []
        assert mail.send_due(tool, settings, now=T0 + timedelta(seconds=30)) == 1
    finally:
        down.stop()
    assert len(down.inbox.received) == 1
    assert tool.tool_job_mails()[0].state == "sent"


def test_a_refused_mail_waits_twice_as_long_each_time(
    tool: Store, relay: Relay, caplog: pytest.LogCaptureFixture
) -> None:
    settings = relay.settings()
    end_run(tool, settings)
    relay.inbox.refuse = "451 4.3.0 Try again later"
    moment = T0
    with caplog.at_level(logging.WARNING, logger="runtime.mail"):
        for wait in (30, 60, 120):
            assert mail.send_due(tool, settings, now=moment) == 0
            moment += timedelta(seconds=wait)
            [waiting] = tool.tool_job_mails()
            assert waiting.next_attempt_at == moment.isoformat()
            assert waiting.last_error == "451 4.3.0 Try again later"
    assert all("refused it (451 4.3.0 Try again later)" in r.getMessage() for r in caplog.records)
    relay.inbox.refuse = None
    assert mail.send_due(tool, settings, now=moment) == 1
    assert len(relay.inbox.received) == 1


def test_a_mail_sent_again_after_a_crash_is_the_same_message(
    tool: Store, relay: Relay, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = relay.settings()
    end_run(tool, settings)
    with monkeypatch.context() as crashed:  # sent, then the sender dies before marking it
        crashed.setattr(Store, "mark_tool_job_mail_sent", lambda *args, **kwargs: True)
        mail.send_due(tool, settings, now=T0)
    assert tool.tool_job_mails()[0].state == "sending"
    assert mail.send_due(tool, settings, now=T0 + timedelta(seconds=60)) == 0  # still claimed
    assert mail.send_due(tool, settings, now=T0 + timedelta(minutes=10)) == 1  # claim lapsed
    first, second = (message for _, _, message in relay.inbox.received)
    assert first["Message-ID"] == second["Message-ID"] and first["Date"] == second["Date"]


def test_two_senders_at_once_never_send_a_mail_twice(
    tool: Store, relay: Relay, store_path: Path
) -> None:
    settings = relay.settings()
    for run in range(1, 41):
        end_run(tool, settings, run)
    start = threading.Barrier(2)
    counts: list[int] = []

    def drain() -> None:
        own = Store(store_path)  # a connection per thread, as in `ats runtime serve`
        sender = mail.MailSender(settings, batch=5)
        start.wait()
        sent = 0
        try:
            while (batch := sender.send_due(own, T0)) > 0:
                sent += batch
        finally:
            own.close()
        counts.append(sent)

    threads = [threading.Thread(target=drain) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    ids = [message["Message-ID"] for _, _, message in relay.inbox.received]
    assert len(ids) == 40 and len(set(ids)) == 40
    assert sum(counts) == 40
    assert {m.state for m in tool.tool_job_mails()} == {"sent"}


def test_the_relay_login_is_used_when_configured(tool: Store) -> None:
    secured = Relay(free_port(), auth_require_tls=False)
    secured.smtp["authenticator"] = secured.inbox.authenticate
    secured.start()
    try:
        settings = secured.settings(username="ats")
        end_run(tool, settings)
        assert mail.send_due(tool, settings, password="wrong", now=T0) == 0
        assert (tool.tool_job_mails()[0].last_error or "").startswith("535")
        later = T0 + timedelta(minutes=1)
        assert mail.send_due(tool, settings, password="relay-secret", now=later) == 1
    finally:
        secured.stop()
    # smtplib tries each mechanism the relay offers before it gives up on a password.
    assert set(secured.inbox.logins) == {("ats", "wrong"), ("ats", "relay-secret")}
    assert secured.inbox.logins[-1] == ("ats", "relay-secret")
    assert len(secured.inbox.received) == 1


def test_the_serve_commands_mail_thread_sends_the_outbox(
    tool: Store, relay: Relay, store_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ats.commands import runtime as command
    from ats.commands.provision import StopSignal

    monkeypatch.setattr(command, "MAIL_INTERVAL", 0.1)
    config = config_from_mapping(
        {
            "wiki": {"api": "http://127.0.0.1:9/w/api.php", "request_page": "R"},
            "bot": {"username": "Bot"},
            "store": {"path": str(store_path)},
            "mail": {
                "relay": "127.0.0.1",
                "port": relay.port,
                "sender": "tools@ts.example",
                "recipient_domain": "ts.example",
            },
        }
    )
    end_run(tool, config.mail, now=None)  # due now
    stop = StopSignal()
    thread = command._MailThread(config, "", stop)
    thread.start()
    try:
        for _ in range(100):
            if relay.inbox.received:
                break
            threading.Event().wait(0.05)
    finally:
        stop.by = "test"
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert len(relay.inbox.received) == 1
