"""Failed provisioning jobs on the bridge: admins see the error and the attempts, the
requester is told plainly (never the technical error) that it is retried."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bridge import create_app
from bridge.testing import log_in
from membership import accounts
from membership.store import Store
from policies.eligibility import EligibilityPolicy

ERROR = "LDAP socket closed: secret-host.internal:389"


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.setenv("ATS_SESSION_KEY", "test-session-key-0123456789abcdef")
    monkeypatch.setenv("ATS_OAUTH_SECRET", "test-oauth-secret")
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    return create_app(
        {
            "url": "http://127.0.0.1:5000",
            "wiki_api": "http://127.0.0.1:9/w/api.php",
            "store_path": str(tmp_path / "ats.sqlite"),
            "oauth_version": 2,
            "consumer_key": "test-consumer",
            "policy": EligibilityPolicy(admins=("Admin One",)),
            "secure_cookies": False,
            "testing": True,
        }
    )


@pytest.fixture
def store(app):
    opened = Store(app.extensions["ats_bridge"].store_path)
    yield opened
    opened.close()


def _failing_request(store: Store, *, retry: bool):
    record = store.add_request(
        page="P",
        key="k",
        heading="Account request: Example",
        requester="Example",
        subject="Example",
        type="account",
        fields={"purpose": "bots"},
        content_hash="h",
        intro_revid=1,
        intro_timestamp="2025-01-01T00:00:00Z",
        state="failed",
        detail={"provisioning_error": ERROR},
    )
    now = datetime.now(UTC)
    store.enqueue_job(record.id, "person", {"wiki_user": "Example"}, now)
    job = store.lease_job("w", now)
    store.fail_job(job.id, "w", ERROR, now, retry=retry)
    return record


@pytest.mark.parametrize("retry", [True, False])
def test_failures_are_shown_to_admins_and_said_plainly_to_the_requester(app, store, retry) -> None:
    _failing_request(store, retry=retry)
    requester = app.test_client()
    log_in(app, requester, "Example")
    me = requester.get("/me").get_data(as_text=True)
    assert "Account creation failed; the admins are told" in me
    assert ("retried automatically" in me) == retry
    assert ERROR not in me and "secret-host" not in me

    admin = app.test_client()
    log_in(app, admin, "Admin One")
    desk = admin.get("/admin").get_data(as_text=True)
    assert "Failed provisioning jobs" in desk and ERROR in desk
    assert ("retrying" in desk) == retry and ("needs an admin" in desk) != retry
    page = admin.get("/admin/member/Example").get_data(as_text=True)
    assert ERROR in page and "<td>1</td>" in page


def test_a_failing_keys_job_is_told_to_the_member(app, store) -> None:
    store.record_account("example", "person", "Example", 5001)
    accounts.keys_changed(store, "Example")
    now = datetime.now(UTC)
    job = store.lease_job("w", now)
    store.fail_job(job.id, "w", ERROR, now, retry=True)
    client = app.test_client()
    log_in(app, client, "Example")
    me = client.get("/me").get_data(as_text=True)
    assert "Updating the keys on your account failed" in me and ERROR not in me
    admin = app.test_client()
    log_in(app, admin, "Admin One")
    assert ERROR in admin.get("/admin").get_data(as_text=True)
