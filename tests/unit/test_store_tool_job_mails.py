"""The tool job mails room (membership/store/tool_job_mails.py): a mail queued once per
event, claimed by one sender at a time, retried after a back-off, given up at last."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from membership.store import Store
from membership.store.tool_job_mails import MAX_ATTEMPTS

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def queue(store: Store, run_key: str = "k1", event: str = "ended", now: datetime = T0) -> bool:
    return store.queue_tool_job_mail(
        "bot", "feed", run_key, event, ["alice@ts.example"], "Subject", "Body", now
    )


def test_a_mail_is_queued_once_per_event(store: Store) -> None:
    assert queue(store)
    assert not queue(store)
    assert queue(store, event="started")
    assert queue(store, run_key="k2")
    mails = store.tool_job_mails("bot")
    assert [(m.run_key, m.event) for m in mails] == [("k1", "ended"), ("k1", "started")] + [
        ("k2", "ended")
    ]
    assert mails[0].recipients == ("alice@ts.example",) and mails[0].state == "queued"


def test_a_claimed_mail_is_no_one_elses_until_its_claim_lapses(store: Store) -> None:
    queue(store)
    [mail] = store.claim_tool_job_mails("one", now=T0)
    assert (mail.state, mail.claimed_by, mail.attempts) == ("sending", "one", 1)
    assert store.claim_tool_job_mails("two", now=T0 + timedelta(seconds=599)) == []
    [again] = store.claim_tool_job_mails("two", now=T0 + timedelta(seconds=600))
    assert (again.id, again.claimed_by, again.attempts) == (mail.id, "two", 2)
    assert store.mark_tool_job_mail_sent(mail.id, T0)
    assert not store.mark_tool_job_mail_sent(mail.id, T0)
    assert store.claim_tool_job_mails("three", now=T0 + timedelta(days=1)) == []


def test_a_mail_not_yet_due_is_not_claimed(store: Store) -> None:
    queue(store, now=T0 + timedelta(minutes=5))
    assert store.claim_tool_job_mails("one", now=T0) == []
    assert len(store.claim_tool_job_mails("one", now=T0 + timedelta(minutes=5))) == 1


def test_a_failed_mail_waits_then_is_given_up(store: Store) -> None:
    queue(store)
    moment = T0
    for attempt in range(1, MAX_ATTEMPTS + 1):
        [mail] = store.claim_tool_job_mails("one", now=moment)
        assert mail.attempts == attempt
        retry_at = moment + timedelta(minutes=1)
        failed = store.mark_tool_job_mail_failed(mail.id, "relay down", retry_at)
        assert failed is not None and failed.last_error == "relay down"
        assert store.claim_tool_job_mails("one", now=moment) == []
        moment = retry_at
    assert failed.state == "failed"
    assert store.claim_tool_job_mails("one", now=moment + timedelta(days=1)) == []


def test_a_sender_killed_mid_send_every_time_gives_the_mail_up(store: Store) -> None:
    queue(store)
    moment = T0
    for _ in range(MAX_ATTEMPTS):
        assert len(store.claim_tool_job_mails("one", now=moment)) == 1
        moment += timedelta(seconds=600)
    assert store.claim_tool_job_mails("one", now=moment) == []
    [mail] = store.tool_job_mails()
    assert mail.state == "failed" and "stopped while sending" in (mail.last_error or "")


def test_a_claim_takes_at_most_the_limit_oldest_first(store: Store) -> None:
    for n in range(5):
        queue(store, run_key=f"k{n}", now=T0 + timedelta(seconds=n))
    first = store.claim_tool_job_mails("one", limit=3, now=T0 + timedelta(minutes=1))
    assert [m.run_key for m in first] == ["k0", "k1", "k2"]
    rest = store.claim_tool_job_mails("two", limit=3, now=T0 + timedelta(minutes=1))
    assert [m.run_key for m in rest] == ["k3", "k4"]


def test_mails_done_with_are_forgotten_after_a_while(store: Store) -> None:
    queue(store, run_key="sent")
    queue(store, run_key="waiting")
    [sent, _] = store.claim_tool_job_mails("one", now=T0)
    store.mark_tool_job_mail_sent(sent.id, T0)
    assert store.forget_tool_job_mails(T0) == 0
    assert store.forget_tool_job_mails(T0 + timedelta(days=1)) == 1
    assert [m.run_key for m in store.tool_job_mails()] == ["waiting"]
