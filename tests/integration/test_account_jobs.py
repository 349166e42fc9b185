"""Changes to existing accounts reach a real slapd through the worker: a key removed on
the bridge, suspend then restore, and tools made for maintainers who are members."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient

from membership import accounts, progress
from membership.store import Store
from policies.fees import FeePolicy
from provisioning.backend import NOLOGIN
from provisioning.ldap import LdapBackend
from provisioning.worker import enqueue_approved, provision_person, run_once
from tests.builders import add_request, ssh_public_key
from tests.integration.slapd import Slapd


@pytest.fixture
def ldap(slapd: Slapd) -> LdapBackend:
    return LdapBackend(slapd.url, slapd.base_dn, slapd.root_dn, slapd.password)


def _person(slapd: Slapd, uid: str) -> dict[str, list[str]]:
    [entry] = slapd.search(f"ou=people,{slapd.base_dn}", f"(uid={uid})")
    return entry


def _drain(store: Store, ldap: LdapBackend, now: datetime) -> list:
    outcomes = []
    while (outcome := run_once(store, ldap, now, worker="w")) is not None:
        outcomes.append(outcome)
    return outcomes


def test_a_key_removed_on_the_bridge_leaves_the_directory(
    slapd: Slapd, ldap: LdapBackend, store: Store, client_as: Callable[..., FlaskClient]
) -> None:
    client = client_as("Jane Doe")
    page = client.get("/me").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    first, second = ssh_public_key(), ssh_public_key()
    client.post("/keys", data={"csrf_token": token, "key": first})
    assert store.member_jobs("Jane Doe") == []  # no account yet: the account takes the keys
    client.post("/keys", data={"csrf_token": token, "key": second})
    provision_person(store, ldap, "Jane Doe", [k.key for k in store.ssh_keys("Jane Doe")])
    assert sorted(_person(slapd, "jane-doe")["sshPublicKey"]) == sorted([first, second])

    [old, _] = store.ssh_keys("Jane Doe")
    response = client.post(f"/keys/{old.id}/remove", data={"csrf_token": token})
    assert response.status_code == 302
    client.post(f"/keys/{old.id}/remove", data={"csrf_token": token})  # a double submit
    [job] = store.member_jobs("Jane Doe")
    assert (job.kind, job.state) == ("keys", "queued")
    # Still in the directory until the worker runs.
    assert len(_person(slapd, "jane-doe")["sshPublicKey"]) == 2

    [outcome] = _drain(store, ldap, datetime.now(UTC) + timedelta(seconds=1))
    assert outcome.ok and outcome.job.state == "done"
    assert _person(slapd, "jane-doe")["sshPublicKey"] == [second]
    assert [e.action for e in store.audit_log() if e.action == "keys-set"] == ["keys-set"]


def test_suspend_then_restore(slapd: Slapd, ldap: LdapBackend, store: Store) -> None:
    key = ssh_public_key()
    store.add_ssh_key("Jane Doe", type="ssh-ed25519", bits=256, key=key, fingerprint="SHA256:a")
    provision_person(store, ldap, "Jane Doe", [key])
    now = datetime.now(UTC) + timedelta(seconds=1)

    job = accounts.enqueue_suspend(store, "Jane Doe", "membership lapsed")
    assert job is not None and job.kind == "suspend"
    [outcome] = _drain(store, ldap, now)
    assert outcome.ok
    person = _person(slapd, "jane-doe")
    assert person["loginShell"] == [NOLOGIN] and "sshPublicKey" not in person
    assert ldap.describe("jane-doe").suspended  # type: ignore[union-attr]
    # Queued again (a second lapse run): converges, nothing doubled.
    accounts.enqueue_suspend(store, "Jane Doe", "membership lapsed")
    [again] = _drain(store, ldap, now)
    assert again.ok and len(store.member_jobs("Jane Doe")) == 1

    accounts.enqueue_restore(store, "Jane Doe")
    [restored] = _drain(store, ldap, now)
    assert restored.ok and restored.job.kind == "restore"
    person = _person(slapd, "jane-doe")
    assert person["loginShell"] != [NOLOGIN] and person["sshPublicKey"] == [key]
    actions = [e.action for e in store.audit_log() if e.action.startswith("account-")]
    assert actions == ["account-converged", "account-suspended", "account-suspended"] + [
        "account-restored"
    ]


def test_a_failing_member_job_is_shown_and_retried(ldap: LdapBackend, store: Store) -> None:
    store.record_account("ghost", "person", "Ghost", 9999)  # not in the directory
    accounts.keys_changed(store, "Ghost")
    now = datetime.now(UTC) + timedelta(seconds=1)
    [outcome] = _drain(store, ldap, now)
    assert not outcome.ok and not outcome.retry  # no such account: an admin must look
    job = store.member_jobs("Ghost")[0]
    assert job.state == "failed" and job.last_error and job.attempts == 1
    assert any(e.action == "keys-failed" for e in store.audit_log())


def _tool_request(store: Store, maintainers: str):
    return add_request(
        store,
        "Alice",
        key="t1",
        type="tool",
        fields={"type": "tool", "tool": "mytool", "license": "MIT", "maintainers": maintainers},
        intro_timestamp="2026-11-01T00:00:00Z",
        state="awaiting-approval",
    )


def _open_gates(store: Store, record_id: int) -> list[str]:
    record = store.request_by_id(record_id)
    assert record is not None
    return [g.name for g in progress.report_for(store, record, "1", FeePolicy()).pending]


def test_an_approved_tool_is_made_for_its_maintainers(
    slapd: Slapd, ldap: LdapBackend, store: Store
) -> None:
    for name in ("Alice", "Bob"):
        provision_person(store, ldap, name, [])
    record = _tool_request(store, "Bob")
    assert "maintainers" not in _open_gates(store, record.id)
    assert "licence" not in _open_gates(store, record.id)
    store.update_request(record.id, state="approved", approved_by="Admin")
    [job] = enqueue_approved(store)
    assert job.kind == "tool" and job.payload["maintainers"] == ["Alice", "Bob"]
    [outcome] = _drain(store, ldap, datetime.now(UTC) + timedelta(seconds=1))
    assert outcome.ok and outcome.account is not None
    assert store.request_by_id(record.id).state == "done"  # type: ignore[union-attr]
    [group] = slapd.search(f"ou=groups,{slapd.base_dn}", "(cn=tools.mytool)")
    assert sorted(group["memberUid"]) == ["alice", "bob"]
    assert ldap.describe("mytool").members == ("alice", "bob")  # type: ignore[union-attr]
    assert store.account_of("mytool", "tool") is not None


def _maintainers_gate(store: Store, record_id: int):
    record = store.request_by_id(record_id)
    assert record is not None
    report = progress.report_for(store, record, "1", FeePolicy())
    return next(g for g in report.gates if g.name == "maintainers")


def test_a_maintainer_without_an_account_holds_the_tool(ldap: LdapBackend, store: Store) -> None:
    provision_person(store, ldap, "Alice", [])
    record = _tool_request(store, "Bob, Carol")
    provision_person(store, ldap, "Bob", [])
    assert "maintainers" in _open_gates(store, record.id)
    gate = _maintainers_gate(store, record.id)
    assert not gate.done and "Carol" in gate.next_step and "Bob" not in gate.next_step
    accounts.enqueue_suspend(store, "Bob", "membership lapsed")
    assert _maintainers_gate(store, record.id).next_step.endswith(": Bob, Carol.")
    provision_person(store, ldap, "Carol", [])
    accounts.enqueue_restore(store, "Bob")
    assert _maintainers_gate(store, record.id).done
