"""Provisioning jobs in the store and the worker, with the dry-run backend: one job per
request, leases that lapse, back-off, and the request's state and audit trail."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from membership.records import RequestRecord
from membership.store import Store
from provisioning.backend import Backend, ProvisioningError
from provisioning.dryrun import DryRunBackend
from provisioning.worker import enqueue_approved, provision_person, run_once
from tests.builders import add_request

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq7wDgO5m3m0n8rHj1bQ2pQ1pC2yq1zQ0S6c1VfQ9x1"


def approved(store: Store, key: str, subject: str, **changes: Any) -> RequestRecord:
    values: dict[str, Any] = {
        "key": key,
        "content_hash": "h-" + key,
        "intro_revid": 10,
        "intro_timestamp": "2026-11-01T00:00:00Z",
        "state": "approved",
        "detail": {"why": "eligible"},
    }
    record = add_request(store, subject, **{**values, **changes})
    store.add_ssh_key(subject, type="ssh-ed25519", bits=256, key=KEY, fingerprint="SHA256:" + key)
    return record


def test_one_job_per_request_and_kind(store: Store) -> None:
    record = approved(store, "k1", "Jane Doe")
    first, created = store.enqueue_job(record.id, "person", {"wiki_user": "Jane Doe"}, NOW)
    again, created_again = store.enqueue_job(record.id, "person", {"x": 1}, NOW)
    assert created and not created_again and first.id == again.id
    assert again.payload == {"wiki_user": "Jane Doe"}
    assert [j.id for j in enqueue_approved(store, NOW)] == []  # it already has its job


def test_a_lease_is_exclusive_until_it_lapses(store: Store) -> None:
    record = approved(store, "k1", "Jane Doe")
    store.enqueue_job(record.id, "person", {"wiki_user": "Jane Doe"}, NOW)
    job = store.lease_job("w1", NOW, lease_seconds=60)
    assert job is not None and job.state == "running" and job.attempts == 1
    assert store.lease_job("w2", NOW + timedelta(seconds=59)) is None
    taken = store.lease_job("w2", NOW + timedelta(seconds=61))
    assert taken is not None and taken.leased_by == "w2" and taken.attempts == 2
    assert not store.finish_job(job.id, "w1", NOW)  # w1 lost its lease
    assert store.finish_job(job.id, "w2", NOW)
    assert store.job(job.id).state == "done"  # type: ignore[union-attr]


def test_failures_back_off_exponentially(store: Store) -> None:
    record = approved(store, "k1", "Jane Doe")
    store.enqueue_job(record.id, "person", {}, NOW)
    delays = []
    moment = NOW
    for _ in range(4):
        job = store.lease_job("w", moment)
        assert job is not None
        failed = store.fail_job(job.id, "w", "boom", moment, retry=True, base_delay=60)
        assert failed is not None and failed.state == "queued"
        due = datetime.fromisoformat(failed.next_attempt_at)  # type: ignore[arg-type]
        delays.append((due - moment).total_seconds())
        assert store.lease_job("w", due - timedelta(seconds=1)) is None
        moment = due
    assert delays == [60, 120, 240, 480]


def test_the_worker_makes_the_account_and_closes_the_request(store: Store) -> None:
    record = approved(store, "k1", "Jane Doe")
    dry = DryRunBackend()
    assert len(enqueue_approved(store, NOW)) == 1
    outcome = run_once(store, dry, NOW, worker="w")
    assert outcome is not None and outcome.ok
    assert outcome.account.name == "jane-doe" and outcome.account.keys == (KEY,)  # type: ignore[union-attr]
    done = store.request_by_id(record.id)
    assert done.state == "done" and done.detail["account"] == "jane-doe"  # type: ignore[union-attr]
    actions = [e.action for e in store.audit_log(record.id)]
    assert actions == ["provisioning-queued", "provisioning-started", "provisioning-done"]
    assert store.account_of("Jane Doe").shell_name == "jane-doe"  # type: ignore[union-attr]
    assert run_once(store, dry, NOW, worker="w") is None
    assert [a["op"] for a in dry.actions] == ["create-person"]


def test_a_name_that_cannot_be_made_fails_for_an_admin_to_fix(store: Store) -> None:
    record = approved(store, "k1", "Александр")
    enqueue_approved(store, NOW)
    outcome = run_once(store, DryRunBackend(), NOW, worker="w")
    assert outcome is not None and not outcome.ok and not outcome.retry
    assert outcome.job.state == "failed"
    failed = store.request_by_id(record.id)
    assert failed.state == "failed"  # type: ignore[union-attr]
    assert "give a shell name explicitly" in failed.detail["provisioning_error"]  # type: ignore[union-attr]
    assert failed.detail["why"] == "eligible"  # the bot's own detail is kept  # type: ignore[union-attr]
    store.requeue_job(outcome.job.id, {"wiki_user": "Александр", "shell_name": "alexander"})
    fixed = run_once(store, DryRunBackend(), datetime.now(UTC), worker="w")
    assert fixed is not None and fixed.ok and fixed.account.name == "alexander"  # type: ignore[union-attr]
    assert store.request_by_id(record.id).state == "done"  # type: ignore[union-attr]


class Flaky:
    """A backend that is down for the first `failures` calls."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.inner = DryRunBackend()

    def create_person(self, *args: Any) -> Any:
        if self.failures:
            self.failures -= 1
            raise ProvisioningError("the directory is unreachable")
        return self.inner.create_person(*args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_a_transient_failure_is_retried_and_then_succeeds(store: Store) -> None:
    record = approved(store, "k1", "Jane Doe")
    enqueue_approved(store, NOW)
    flaky = Flaky(2)
    assert isinstance(flaky.inner, Backend)
    first = run_once(store, flaky, NOW, worker="w")  # type: ignore[arg-type]
    assert first is not None and first.retry and first.job.state == "queued"
    assert store.request_by_id(record.id).state == "failed"  # type: ignore[union-attr]
    assert run_once(store, flaky, NOW, worker="w") is None  # not due yet
    second = run_once(store, flaky, NOW + timedelta(seconds=60), worker="w")  # type: ignore[arg-type]
    assert second is not None and second.retry
    third = run_once(store, flaky, NOW + timedelta(seconds=180), worker="w")  # type: ignore[arg-type]
    assert third is not None and third.ok and third.job.attempts == 3
    assert store.request_by_id(record.id).state == "done"  # type: ignore[union-attr]
    failures = [e for e in store.audit_log(record.id) if e.action == "provisioning-failed"]
    assert [e.evidence["attempt"] for e in failures] == [1, 2]


def test_attempts_run_out(store: Store) -> None:
    approved(store, "k1", "Jane Doe")
    enqueue_approved(store, NOW)
    flaky = Flaky(10)
    moment = NOW
    for _ in range(3):
        outcome = run_once(store, flaky, moment, worker="w", max_attempts=3)  # type: ignore[arg-type]
        assert outcome is not None
        moment += timedelta(hours=2)
    assert outcome.job.state == "failed" and not outcome.retry


class Unreachable(ProvisioningError):
    unavailable = True


class Down(Flaky):
    def create_person(self, *args: Any) -> Any:
        if self.failures:
            self.failures -= 1
            raise Unreachable("the directory ldap://x cannot be reached")
        return self.inner.create_person(*args)


def test_an_outage_spends_no_attempts_however_long_it_lasts(store: Store) -> None:
    record = approved(store, "k1", "Jane Doe")
    enqueue_approved(store, NOW)
    down = Down(20)
    moment = NOW
    for _ in range(20):
        outcome = run_once(store, down, moment, worker="w", max_attempts=3, outage_delay=30)  # type: ignore[arg-type]
        assert outcome is not None and outcome.retry and not outcome.ok
        assert (outcome.job.state, outcome.job.attempts) == ("queued", 0)
        assert run_once(store, down, moment + timedelta(seconds=29), worker="w") is None
        moment += timedelta(seconds=30)
    done = run_once(store, down, moment, worker="w", max_attempts=3)  # type: ignore[arg-type]
    assert done is not None and done.ok and done.job.attempts == 1
    assert store.request_by_id(record.id).state == "done"  # type: ignore[union-attr]
    deferred = [e for e in store.audit_log(record.id) if e.action == "provisioning-deferred"]
    assert len(deferred) == 20


def test_a_tool_waits_for_its_maintainers_accounts(store: Store) -> None:
    fields = {"type": "tool", "tool": "citation-bot", "maintainers": "Bob", "license": "MIT"}
    tool = approved(store, "t1", "Jane Doe", type="tool", fields=fields)
    dry = DryRunBackend()
    enqueue_approved(store, NOW)
    outcome = run_once(store, dry, NOW, worker="w")
    assert outcome is not None and outcome.retry and "'Bob' has no shell account" in outcome.error
    provision_person(store, dry, "Bob", [KEY])
    provision_person(store, dry, "Jane Doe", [KEY])
    later = run_once(store, dry, NOW + timedelta(minutes=5), worker="w")
    assert later is not None and later.ok
    assert later.account.members == ("bob", "jane-doe")  # type: ignore[union-attr]
    assert store.request_by_id(tool.id).state == "done"  # type: ignore[union-attr]


def test_dry_run_writes_json_lines(tmp_path: Path) -> None:
    log = tmp_path / "dry.jsonl"
    dry = DryRunBackend(log)
    dry.create_person("Jane Doe", "jane-doe", [KEY])
    dry.create_person("Jane Doe", "jane-doe", [KEY])
    dry.suspend("jane-doe")
    dry.restore("jane-doe")
    ops = [json.loads(line)["op"] for line in log.read_text().splitlines()]
    assert ops == ["create-person", "suspend", "restore"]
