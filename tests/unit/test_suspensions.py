"""An admin suspends and restores a member's account: the desk's form through Flask's test
client (refusals, success, the audit entry, the job queued once, CSRF, the member's own
page that never shows the reason) and `ats members suspend|restore` from the command line.
The directory following the jobs is tested against a real slapd in
tests/integration/test_account_jobs.py."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from ats import cli
from membership.store import Store
from tests.builders import add_request

REASON = "Ran a crypto miner on the login host"


@pytest.fixture
def member(store: Store) -> str:
    """Jane Doe, who has a shell account."""
    add_request(store, "Jane Doe", state="done")
    store.record_account("jane-doe", "person", "Jane Doe", 5001)
    return "Jane Doe"


def _page(client: FlaskClient, username: str = "Jane Doe") -> str:
    return client.get(f"/admin/member/{username}").get_data(as_text=True)


def _post(client: FlaskClient, data: dict[str, str], username: str = "Jane Doe") -> str:
    page = _page(client, username)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token, page
    response = client.post(
        f"/admin/member/{username}/suspension", data={"csrf_token": token.group(1), **data}
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return client.get(response.headers["Location"]).get_data(as_text=True)


def _text(page: str) -> str:
    """The page's words, without markup and with single spaces."""
    return " ".join(re.sub(r"<[^>]+>", " ", page).split()).replace(" :", ":")


def _suspensions(store: Store) -> list[str]:
    return [e.action for e in store.audit_log() if e.action.startswith("admin-")]


def test_an_admin_suspends_then_restores_on_the_desk(
    store: Store, member: str, client_as: Callable[..., FlaskClient]
) -> None:
    admin = client_as("Admin One")
    page = _page(admin)
    assert 'id="suspend"' in page and 'id="restore"' not in page

    refused = _post(admin, {"action": "suspend", "reason": "   "})
    assert "Not suspended: give a reason" in refused
    assert store.member_jobs(member) == [] and not store.account_of(member).suspended  # type: ignore[union-attr]

    done = _post(admin, {"action": "suspend", "reason": REASON})
    assert "The account of Jane Doe is suspended" in done
    account = store.account_of(member)
    assert account is not None and account.suspended and account.suspended_reason == REASON
    [job] = store.member_jobs(member)
    assert (job.kind, job.state, job.payload["shell_name"]) == ("suspend", "queued", "jane-doe")
    [entry] = [e for e in store.audit_log() if e.action == "admin-suspended"]
    assert entry.actor == "Admin One"
    assert entry.evidence["subject"] == member
    assert REASON not in str(entry.evidence)  # the audit log outlives the reason
    # The admins see the reason on the account, and the decision in the member's history.
    assert REASON in done and 'id="restore"' in done and 'id="suspend"' not in done
    assert "Admin One: suspended the account" in _text(done)

    again = _post(admin, {"action": "suspend", "reason": "a second click"})
    assert "The account of Jane Doe is already suspended; nothing changed." in again
    assert store.member_jobs(member) == [job]
    assert _suspensions(store) == ["admin-suspended"]
    assert store.account_of(member).suspended_reason == REASON  # type: ignore[union-attr]

    restored = _post(admin, {"action": "restore"})
    assert "The account of Jane Doe is restored" in restored
    assert not store.account_of(member).suspended  # type: ignore[union-attr]
    queued = [(j.kind, j.state) for j in store.member_jobs(member) if j.state == "queued"]
    assert queued == [("restore", "queued")]  # the suspend not yet run gives way
    again = _post(admin, {"action": "restore"})
    assert "The account of Jane Doe is not suspended; nothing changed." in again
    assert _suspensions(store) == ["admin-suspended", "admin-restored"]
    assert len([j for j in store.member_jobs(member) if j.kind == "restore"]) == 1


def test_the_form_needs_an_admin_a_csrf_token_and_an_account(
    store: Store, member: str, client_as: Callable[..., FlaskClient]
) -> None:
    admin = client_as("Admin One")
    no_token = admin.post(
        "/admin/member/Jane Doe/suspension", data={"action": "suspend", "reason": REASON}
    )
    assert no_token.status_code == 400
    jane = client_as("Jane Doe")
    token = re.search(r'name="csrf_token" value="([^"]+)"', jane.get("/me").get_data(as_text=True))
    assert token
    forbidden = jane.post(
        "/admin/member/Jane Doe/suspension",
        data={"csrf_token": token.group(1), "action": "restore"},
    )
    assert forbidden.status_code == 403
    assert store.member_jobs(member) == [] and _suspensions(store) == []

    add_request(store, "New Person", state="awaiting-requester")
    page = _page(admin, "New Person")
    assert 'id="suspend"' not in page
    refused = _post(admin, {"action": "suspend", "reason": REASON}, "New Person")
    assert "New Person has no shell account yet" in refused
    assert admin.get("/admin/member/Nobody Here").status_code == 404
    assert _suspensions(store) == []


def test_the_member_sees_that_an_admin_suspended_them_but_not_why(
    store: Store, member: str, client_as: Callable[..., FlaskClient]
) -> None:
    jane = client_as("Jane Doe")
    assert 'id="suspended"' not in jane.get("/me").get_data(as_text=True)
    _post(client_as("Admin Two"), {"action": "suspend", "reason": REASON})
    page = _text(jane.get("/me").get_data(as_text=True))
    assert "Your shell account is suspended by a chapter admin" in page
    assert "write to the chapter's admins: Admin One, Admin Two." in page
    assert REASON not in page and "Admin Two suspended" not in page


def test_renewal_suspensions_are_renewal_s_to_lift(
    store: Store, member: str, client_as: Callable[..., FlaskClient]
) -> None:
    store.record_suspension(
        member,
        "jane-doe",
        "membership lapsed",
        paid_until=date(2024, 1, 1).isoformat(),
        job_id=None,
    )
    store.set_account_suspended("jane-doe", "membership lapsed")
    admin = client_as("Admin One")
    page = _page(admin)
    assert 'id="restore"' not in page and "because the membership lapsed" in page
    refused = _post(admin, {"action": "restore"})
    assert "record a payment or grant a waiver" in refused
    assert store.account_of(member).suspended and _suspensions(store) == []  # type: ignore[union-attr]
    jane = client_as("Jane Doe")
    assert 'id="suspended"' not in jane.get("/me").get_data(as_text=True)


def _config(tmp_path: Path) -> list[str]:
    config = tmp_path / "ats.toml"
    config.write_text(
        '[wiki]\napi = "http://127.0.0.1:9/api.php"\n'
        'request_page = "Toolserver/Requests"\n[bot]\nusername = "Clerk@c"\n'
        '[store]\npath = "ats.sqlite"\n'
    )
    return ["--config", str(config)]


def test_suspend_and_restore_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = _config(tmp_path)
    store = Store(tmp_path / "ats.sqlite")
    add_request(store, "Jane Doe", state="done")
    store.record_account("jane-doe", "person", "Jane Doe", 5001)
    add_request(store, "New Person", state="awaiting-requester")

    def run(*words: str) -> tuple[int, str, str]:
        status = cli.main([*args, "members", *words])
        out, err = capsys.readouterr()
        return status, out.strip(), err.strip()

    suspend = ("suspend", "--by", "Admin One", "--reason")
    assert run(*suspend, REASON, "Nobody Here") == (
        1,
        "",
        "ats: Nobody Here is not a member known here",
    )
    assert run(*suspend, REASON, "New Person")[2] == "ats: New Person has no shell account yet"
    assert run(*suspend, " ", "Jane Doe")[2].startswith("ats: a reason is required")

    status, out, _ = run(*suspend, REASON, "jane_Doe")
    assert status == 0 and out.startswith("Jane Doe: suspended by Admin One; job #")
    [job] = store.member_jobs("Jane Doe")
    assert job.kind == "suspend" and store.account_of("Jane Doe").suspended  # type: ignore[union-attr]
    [entry] = [e for e in store.audit_log() if e.action == "admin-suspended"]
    assert entry.actor == "Admin One" and REASON not in str(entry.evidence)
    status, _, err = run(*suspend, "again", "Jane Doe")
    assert status == 1 and err.startswith("ats: Jane Doe is already suspended (since ")
    assert store.member_jobs("Jane Doe") == [job] and len(_suspensions(store)) == 1

    status, out, _ = run("restore", "Jane Doe", "--by", "Admin Two")
    assert status == 0 and out.startswith("Jane Doe: restored by Admin Two; job #")
    assert not store.account_of("Jane Doe").suspended  # type: ignore[union-attr]
    assert run("restore", "Jane Doe", "--by", "Admin Two") == (
        1,
        "",
        "ats: Jane Doe is not suspended",
    )
    assert _suspensions(store) == ["admin-suspended", "admin-restored"]
    with pytest.raises(SystemExit) as exit_info:
        cli.main([*args, "members", "suspend", "Jane Doe", "--by", "Admin One"])
    assert exit_info.value.code == 2 and "--reason" in capsys.readouterr().err


def test_renewal_leaves_an_admin_suspension_alone(store: Store) -> None:
    """A lapsed member an admin suspended is not suspended again by renewal, and paying
    does not lift the admin's suspension: only an admin's restore does; then a member
    still lapsed is renewal's to suspend."""
    from membership import renewal, suspensions
    from policies.fees import load_fees

    policy, today = load_fees(), date(2025, 6, 1)
    store.record_account("jane", "person", "Jane", 10001)
    store.record_payment(
        "Jane",
        amount=policy.annual_fee,
        currency=policy.currency,
        paid_on=date(2024, 1, 1).isoformat(),
        method="bank",
        reference="r1",
        recorded_by="Treasurer",
    )
    suspensions.suspend(store, "Jane", REASON, "Admin One")
    the_plan = renewal.plan(store, policy, today)
    assert the_plan.suspend == [] and the_plan.restore == []
    store.record_payment(
        "Jane",
        amount=policy.annual_fee,
        currency=policy.currency,
        paid_on=today.isoformat(),
        method="bank",
        reference="r2",
        recorded_by="Treasurer",
    )
    assert renewal.plan(store, policy, today).restore == []
    assert store.account_of("Jane").suspended  # type: ignore[union-attr]
    suspensions.restore(store, "Jane", "Admin One")
    lapsed = today + timedelta(days=365 + policy.grace_days + 30)
    assert [m.name for m in renewal.plan(store, policy, lapsed).suspend] == ["Jane"]
