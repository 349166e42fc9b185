"""Failed provisioning jobs on the bridge: admins see the error and the attempts, the
requester is told plainly (never the technical error) that it is retried."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from membership import accounts
from membership.store import Store
from tests.builders import add_request

ERROR = "LDAP socket closed: secret-host.internal:389"


def _failing_request(store: Store, *, retry: bool):
    record = add_request(store, state="failed", detail={"provisioning_error": ERROR})
    now = datetime.now(UTC)
    store.enqueue_job(record.id, "person", {"wiki_user": "Example"}, now)
    job = store.lease_job("w", now)
    store.fail_job(job.id, "w", ERROR, now, retry=retry)
    return record


@pytest.mark.parametrize("retry", [True, False])
def test_failures_are_shown_to_admins_and_said_plainly_to_the_requester(
    client_as, store, retry
) -> None:
    _failing_request(store, retry=retry)
    requester = client_as("Example")
    me = requester.get("/me").get_data(as_text=True)
    assert "Account creation failed; the admins are told" in me
    assert ("retried automatically" in me) == retry
    assert ERROR not in me and "secret-host" not in me

    admin = client_as("Admin One")
    desk = admin.get("/admin").get_data(as_text=True)
    assert "Failed provisioning jobs" in desk and ERROR in desk
    assert ("retrying" in desk) == retry and ("needs an admin" in desk) != retry
    page = admin.get("/admin/member/Example").get_data(as_text=True)
    assert ERROR in page and "<td>1</td>" in page


def test_a_failing_keys_job_is_told_to_the_member(client_as, store) -> None:
    store.record_account("example", "person", "Example", 5001)
    accounts.keys_changed(store, "Example")
    now = datetime.now(UTC)
    job = store.lease_job("w", now)
    store.fail_job(job.id, "w", ERROR, now, retry=True)
    client = client_as("Example")
    me = client.get("/me").get_data(as_text=True)
    assert "Updating the keys on your account failed" in me and ERROR not in me
    admin = client_as("Admin One")
    assert ERROR in admin.get("/admin").get_data(as_text=True)
