"""The bridge through Flask's test client: security, public data, gates, admin pages.

Logged-in pages use `bridge.testing.log_in`, a TEST-ONLY helper that puts a verified
identity into the server-side session as the OAuth callback would; the OAuth exchange
itself is tested on its own. No request leaves 127.0.0.1 (the wiki address below is
never contacted: OAuth 2.0's start only builds a URL).
"""

from __future__ import annotations

import re
from datetime import date

import pytest

from bridge import create_app
from bridge.settings import BridgeConfigError
from bridge.testing import log_in
from membership import fund
from membership.store import Store
from policies.fees import load_fees
from tests.builders import add_request, ssh_public_key


@pytest.fixture
def app_settings(app_settings):
    return {**app_settings, "login_limit": 3}


def _csrf(client, path: str) -> str:
    page = client.get(path).get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, f"no CSRF field on {path}"
    return found.group(1)


def _page(client, path: str = "/admin/member/Example") -> str:
    return client.get(path).get_data(as_text=True)


def _fill_fund(store: Store, amount: int, payer: str = "Funder") -> None:
    """A member's payment, then `amount` of it moved into the waiver fund."""
    store.record_payment(
        payer,
        amount=amount,
        currency="USD",
        paid_on=date.today().isoformat(),
        method="card",
        reference=f"REF-{payer}",
        recorded_by="Admin One",
    )
    fund.transfer_surplus(store, amount, load_fees(), "Admin One", date.today())


# -- start-up --------------------------------------------------------------------


@pytest.mark.parametrize("name", ["ATS_SESSION_KEY", "ATS_OAUTH_SECRET"])
def test_refuses_to_start_without_each_secret(app_settings, monkeypatch, name) -> None:
    monkeypatch.delenv(name)
    with pytest.raises(BridgeConfigError, match=name):
        create_app(app_settings)


def test_refuses_to_start_without_settings() -> None:
    with pytest.raises(BridgeConfigError, match="ats bridge serve"):
        create_app()


# -- headers, CSRF, redirects ----------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/status", "/status.json", "/me", "/admin", "/nope"])
def test_security_headers_on_every_page(client, path) -> None:
    response = client.get(path)
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert "form-action 'self'" in csp and "base-uri 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"]


def test_csp_allows_only_the_bridges_styles_and_codex_icons(client) -> None:
    csp = client.get("/").headers["Content-Security-Policy"]
    assert "style-src 'self';" in csp  # bridge.css and codex.css, no inline styles
    assert "img-src 'self' data:;" in csp  # Codex's CSS draws its icons as data: SVGs
    assert "script-src" not in csp  # falls back to default-src 'none'


@pytest.mark.parametrize("installed", [True, False])
def test_codex_stylesheet_linked_only_when_installed(
    app_settings, tmp_path, monkeypatch, installed
) -> None:
    from bridge import views

    static = tmp_path / "static"
    static.mkdir()
    if installed:
        (static / "codex.css").write_text(".cdx-button{}")
    monkeypatch.setattr(views, "STATIC", static)
    page = create_app(app_settings).test_client().get("/").get_data(as_text=True)
    assert ('href="/static/codex.css"' in page) is installed
    assert 'href="/static/bridge.css"' in page


def test_post_without_csrf_token_is_refused(app, client, store) -> None:
    add_request(store, state="awaiting-identity")
    log_in(app, client, "Example")
    response = client.post("/terms", data={"version": app.extensions["ats_bridge"].terms.version})
    assert response.status_code == 400
    assert "did not come from this site" in response.get_data(as_text=True)
    response = client.post("/terms", data={"csrf_token": "forged", "version": "x"})
    assert response.status_code == 400
    assert store.terms_accepted("Example", app.extensions["ats_bridge"].terms.version) is None


def test_session_cookie_flags(app, client) -> None:
    log_in(app, client, "Example")
    response = client.get("/me")
    cookie = response.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_secure_cookie_by_default_for_https(app_settings) -> None:
    app_settings = {**app_settings, "url": "https://bridge.example", "secure_cookies": None}
    app = create_app(app_settings)
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_login_redirects_to_the_wiki_and_keeps_only_local_next(app_settings) -> None:
    client = create_app({**app_settings, "login_limit": 100}).test_client()
    response = client.get("/login?next=https://evil.example/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("http://127.0.0.1:9/")
    with client.session_transaction() as session:
        assert session["next"] == "/me"
        assert session["oauth_kept"]
    for target in ("//evil.example/x", "/\\evil.example", "javascript:alert(1)"):
        client.get("/login", query_string={"next": target})
        with client.session_transaction() as session:
            assert session["next"] == "/me"
    client.get("/login?next=/admin")
    with client.session_transaction() as session:
        assert session["next"] == "/admin"


def test_callback_without_a_started_login_is_refused(client) -> None:
    response = client.get("/oauth/callback?code=abc&state=xyz")
    assert response.status_code == 400
    assert "log in again" in response.get_data(as_text=True)


def test_login_is_rate_limited_per_client(client) -> None:
    codes = [client.get("/login").status_code for _ in range(4)]
    assert codes == [302, 302, 302, 429]
    other = client.get("/login", environ_overrides={"REMOTE_ADDR": "10.0.0.9"})
    assert other.status_code == 302


def test_login_page_required_for_me(client) -> None:
    response = client.get("/me")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=/me")


# -- public data -------------------------------------------------------------------


def test_status_json_shape_and_no_private_data(app, client, store) -> None:
    record = add_request(store, state="awaiting-identity")
    add_request(store, "Closed Person", state="declined")
    store.request_waiver("Example", "SECRET-WAIVER-REASON medical bills")
    store.attest_identification("Example", attested_by="Admin One", method="SECRET-METHOD call")
    store.record_payment(
        "Example",
        amount=1234,
        currency="USD",
        paid_on="2025-01-02",
        method="wire",
        reference="SECRET-REF",
        recorded_by="Admin One",
    )
    data = client.get("/status.json").get_json()
    assert set(data) >= {"open", "open_count", "by_state", "median_days_to_decision"}
    assert data["open_count"] == 1
    assert data["open"][0]["username"] == "Example"
    assert data["open"][0]["state"] == record.state
    for path in ("/status.json", "/status"):
        text = client.get(path).get_data(as_text=True)
        for secret in ("SECRET-WAIVER-REASON", "SECRET-METHOD", "SECRET-REF", "1234", "12.34"):
            assert secret not in text, (path, secret)


# -- admin -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", "/admin"), ("get", "/admin/member/Example"), ("post", "/admin/waiver/1")],
)
def test_admin_pages_are_403_for_non_admins(app, client, method, path) -> None:
    log_in(app, client, "Example")
    data = {"csrf_token": _csrf(client, "/me")} if method == "post" else None
    response = getattr(client, method)(path, data=data)
    assert response.status_code == 403


def test_admin_sees_queue(app, client, store) -> None:
    add_request(store, state="awaiting-identity")
    log_in(app, client, "Admin One")
    page = client.get("/admin").get_data(as_text=True)
    assert "Account request: Example" in page


# -- the requester's walk through the gates ------------------------------------------


def test_requester_walks_gates_to_awaiting_approval(
    app, client, client_as, store, app_settings
) -> None:
    record = add_request(store, state="awaiting-identity")
    log_in(app, client, "Example")
    assert store.request_by_id(record.id).state == "awaiting-requester"

    version = app.extensions["ats_bridge"].terms.version
    token = _csrf(client, "/terms")
    assert client.post("/terms", data={"csrf_token": token, "version": version}).status_code == 302
    client.post("/keys", data={"csrf_token": token, "key": "ssh-dss AAAA"})
    assert store.ssh_keys("Example") == []
    assert "DSA keys are obsolete" in client.get("/me").get_data(as_text=True)
    line = ssh_public_key()
    client.post("/keys", data={"csrf_token": token, "key": line + " laptop"})
    [key] = store.ssh_keys("Example")
    me = client.get("/me").get_data(as_text=True)
    assert key.fingerprint in me
    client.post("/keys", data={"csrf_token": token, "key": line})
    assert len(store.ssh_keys("Example")) == 1
    assert "already on your account" in client.get("/me").get_data(as_text=True)
    me = client.get("/me").get_data(as_text=True)
    assert "Your waiver request is with the chapter's admins" not in me
    client.post("/waiver", data={"csrf_token": token, "reason": "PRIVATE-REASON"})
    assert store.request_by_id(record.id).state == "awaiting-requester"
    # Next no longer asks for what was just done: it says who acts now.
    me = client.get("/me").get_data(as_text=True)
    assert "Your waiver request is with the chapter's admins" in me

    admin_one, admin_two = client_as("Admin One"), client_as("Admin Two")
    one = _csrf(admin_one, "/admin/member/Example")
    two = _csrf(admin_two, "/admin/member/Example")
    admin_one.post(
        "/admin/member/Example/identification", data={"csrf_token": one, "method": "video call"}
    )
    [waiver] = store.waivers("Example")
    _fill_fund(store, 50_00)
    admin_one.post(f"/admin/waiver/{waiver.id}", data={"csrf_token": one, "action": "grant"})
    assert store.waiver(waiver.id).status == "requested"
    assert store.request_by_id(record.id).state == "awaiting-requester"
    # The proposer is told to wait; only another admin is offered the confirm button.
    assert "Confirm grant" not in _page(admin_one)
    assert "You granted it; another admin must confirm." in _page(admin_one)
    assert "Confirm grant" in _page(admin_two)
    admin_one.post(f"/admin/waiver/{waiver.id}", data={"csrf_token": one, "action": "grant"})
    assert store.waiver(waiver.id).status == "requested"
    admin_two.post(f"/admin/waiver/{waiver.id}", data={"csrf_token": two, "action": "grant"})
    assert store.waiver(waiver.id).status == "granted"
    assert "Waiver granted; the fund paid 20.00 USD and now holds 30.00" in _page(admin_two)
    assert store.request_by_id(record.id).state == "awaiting-approval"

    me = client.get("/me").get_data(as_text=True)
    assert "awaiting-approval" in me and "Wait for a chapter admin" in me

    log_text = repr(store.audit_log())
    assert "PRIVATE-REASON" not in log_text and "video call" not in log_text
    assert line.split()[1] not in log_text
    actions = [e.action for e in store.audit_log()]
    assert "gates-state" in actions and "waiver-confirmed" in actions


def test_admin_cannot_record_facts_about_themselves(app, client, store) -> None:
    log_in(app, client, "Admin One")
    token = _csrf(client, "/admin")
    response = client.post(
        "/admin/member/Admin_One/identification", data={"csrf_token": token, "method": "mirror"}
    )
    assert response.status_code == 403
    assert store.identifications("Admin One") == []


def test_payment_settles_fee(app, client, store) -> None:
    add_request(store, state="awaiting-identity")
    log_in(app, client, "Admin One")
    token = _csrf(client, "/admin/member/Example")
    response = client.post(
        "/admin/member/Example/payment",
        data={"csrf_token": token, "amount": "20.00", "currency": "USD", "paid_on": "2000-01-01"},
    )
    assert response.status_code == 302
    [payment] = store.payments("Example")
    assert (payment.amount, payment.recorded_by) == (2000, "Admin One")


def test_logout_forgets_the_session(app, client) -> None:
    log_in(app, client, "Example")
    token = _csrf(client, "/me")
    client.post("/logout", data={"csrf_token": token})
    assert client.get("/me").status_code == 302


def test_oauth_endpoints_beside_the_api_unless_configured(app_settings) -> None:
    derived = create_app(app_settings).extensions["ats_oauth"].settings
    assert (derived.server, derived.index_url, derived.rest_url) == (
        "http://127.0.0.1:9",
        "http://127.0.0.1:9/w/index.php",
        "http://127.0.0.1:9/w/rest.php",
    )
    elsewhere = {
        **app_settings,
        "oauth_index_url": "http://127.0.0.1:8/index.php",
        "oauth_rest_url": "http://127.0.0.1:8/rest.php",
    }
    # The wiki that holds the consumer signs the identities: it is their `iss`.
    oauth = create_app(elsewhere).extensions["ats_oauth"].settings
    assert (oauth.server, oauth.index_url, oauth.rest_url) == (
        "http://127.0.0.1:8",
        "http://127.0.0.1:8/index.php",
        "http://127.0.0.1:8/rest.php",
    )


# -- the waiver fund in the bridge -----------------------------------------------------


def _ask_waiver(app, store: Store, username: str = "Example") -> int:
    member = app.test_client()
    log_in(app, member, username)
    token = _csrf(member, "/me")
    member.post("/waiver", data={"csrf_token": token, "reason": "PRIVATE-REASON"})
    [waiver] = store.waivers(username)
    return waiver.id


def _admins(app):
    one, two = app.test_client(), app.test_client()
    log_in(app, one, "Admin One")
    log_in(app, two, "Admin Two")
    return (one, _csrf(one, "/admin")), (two, _csrf(two, "/admin"))


def test_a_short_fund_queues_the_waiver_and_tells_the_member(app, client, store) -> None:
    add_request(store, state="awaiting-identity")
    waiver_id = _ask_waiver(app, store)
    (one, t1), (two, t2) = _admins(app)
    one.post(f"/admin/waiver/{waiver_id}", data={"csrf_token": t1, "action": "grant"})
    assert "a second admin must confirm it" in _page(one)
    log_in(app, client, "Example")
    assert "two of them decide it" in _page(client, "/me")

    two.post(f"/admin/waiver/{waiver_id}", data={"csrf_token": t2, "action": "grant"})
    assert "waits in the queue" in _page(two)
    assert store.waiver(waiver_id).status == "requested"
    me = _page(client, "/me")
    assert "waits in line (number 1)" in me and "PRIVATE-REASON" not in me

    _fill_fund(store, 20_00)
    assert store.waiver(waiver_id).status == "granted"
    assert "you have nothing to pay this year" in _page(client, "/me")


def test_a_refused_waiver_is_said_plainly(app, client, store) -> None:
    add_request(store, state="awaiting-identity")
    waiver_id = _ask_waiver(app, store)
    (one, t1), _ = _admins(app)
    one.post(f"/admin/waiver/{waiver_id}", data={"csrf_token": t1, "action": "refuse"})
    assert "Waiver refused." in _page(one)
    log_in(app, client, "Example")
    assert "was not granted" in _page(client, "/me")


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("20.001", "more decimals than USD has (2)"),
        ("1,000", "is not an amount like 20.00"),
        ("2e3", "is not an amount like 20.00"),
        ("0", "must be more than zero"),
        ("-5", "must be more than zero"),
    ],
)
def test_payment_amounts_are_read_exactly(app, client, store, amount, message) -> None:
    add_request(store, state="awaiting-identity")
    log_in(app, client, "Admin One")
    token = _csrf(client, "/admin/member/Example")
    client.post(
        "/admin/member/Example/payment",
        data={"csrf_token": token, "amount": amount, "currency": "USD", "paid_on": "2000-01-01"},
    )
    assert message in _page(client)
    assert store.payments("Example") == []


def test_payment_in_another_currency_is_refused(app, client, store) -> None:
    # The ledger keeps the policy's currency: a JPY payment is read exactly (no
    # decimals) and then refused with what to do, never recorded.
    add_request(store, state="awaiting-identity")
    log_in(app, client, "Admin One")
    token = _csrf(client, "/admin/member/Example")
    data = {"csrf_token": token, "currency": "JPY", "paid_on": "2000-01-01"}
    client.post("/admin/member/Example/payment", data={**data, "amount": "2500.5"})
    assert "JPY has no decimals" in _page(client)
    client.post("/admin/member/Example/payment", data={**data, "amount": "2500"})
    assert "the ledger is kept in USD; convert the JPY amount to USD first" in _page(client)
    assert store.payments("Example") == []


def test_status_shows_the_fund_and_waiver_count_but_no_one(app, client, store) -> None:
    add_request(store, "Waived Person", state="done")
    add_request(store, "Other Waived", state="done")
    _fill_fund(store, 100_00, payer="Generous Payer")
    (one, t1), (two, t2) = _admins(app)
    for username in ("Waived Person", "Other Waived"):
        waiver_id = _ask_waiver(app, store, username)
        one.post(f"/admin/waiver/{waiver_id}", data={"csrf_token": t1, "action": "grant"})
        two.post(f"/admin/waiver/{waiver_id}", data={"csrf_token": t2, "action": "grant"})
        assert store.waiver(waiver_id).status == "granted"

    data = client.get("/status.json").get_json()
    assert data["fund"] == {
        "currency": "USD",
        "balance": "60.00",
        "balance_minor": 60_00,
        "waivers_paid": 2,
    }
    for path in ("/status.json", "/status"):
        text = _page(client, path)
        for private in ("Waived Person", "Other Waived", "Generous Payer", "PRIVATE-REASON"):
            assert private not in text, (path, private)
        for name in ("Waived_Person", "Admin One", "REF-", "20.00"):
            assert name not in text, (path, name)
    page = _page(client, "/status")
    assert "60.00 USD" in page and "Fees waived by the fund" in page


def test_admin_desk_charts_are_inline_svg_without_style(app, client, store) -> None:
    add_request(store, "Member", state="done")
    _fill_fund(store, 30_00, payer="Member")
    log_in(app, client, "Admin One")
    response = client.get("/admin")
    page = response.get_data(as_text=True)
    assert page.count("<svg") == 2
    assert "Waiver fund balance (USD)" in page and "Members by standing" in page
    assert "Fund, " in page and "30.00</title>" in page  # the fund's last point
    assert "paid, " in page and "lapsed" in page
    svg = page[page.index("<svg") : page.rindex("</svg>")]
    assert "style=" not in svg and "<script" not in page and " on" not in svg
    assert "script-src" not in response.headers["Content-Security-Policy"]
    assert "/admin/report.csv" in page


def test_admin_downloads_the_report_as_csv(app, client, store) -> None:
    add_request(store, "Member", state="done")
    _fill_fund(store, 30_00, payer="Member")
    log_in(app, client, "Admin One")
    response = client.get("/admin/report.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and ".csv" in disposition
    text = response.get_data(as_text=True)
    assert text.splitlines()[0] == "section,item,value"
    assert "money,fund,30.00" in text and "members,paid,1" in text


def test_the_report_and_charts_are_for_admins_only(app, client, store) -> None:
    assert client.get("/admin/report.csv").status_code == 302  # to the login
    log_in(app, client, "Example")
    assert client.get("/admin/report.csv").status_code == 403
    assert client.get("/admin").status_code == 403


@pytest.mark.parametrize("name", ["privacy", "identification", "fees", "terms"])
def test_the_chapters_policies_are_rendered(client, name: str) -> None:
    response = client.get(f"/policies/{name}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "<h1>" in page and "Content-Security-Policy" in response.headers
    assert "version:" not in page


def test_policy_index_and_unknown_policy(client) -> None:
    index = client.get("/policies").get_data(as_text=True)
    for name in ("privacy", "identification", "fees", "terms"):
        assert f"/policies/{name}" in index
    assert client.get("/policies/../../etc/passwd").status_code == 404
    assert client.get("/policies/secrets").status_code == 404


def test_me_shows_when_the_membership_renews(app, client, store) -> None:
    from datetime import date, timedelta

    add_request(store, state="awaiting-identity")
    paid = (date.today() - timedelta(days=350)).isoformat()
    store.record_payment(
        "Example",
        amount=2000,
        currency="USD",
        paid_on=paid,
        method="card",
        reference="REF-1",
        recorded_by="Admin One",
    )
    log_in(app, client, "Example")
    page = client.get("/me").get_data(as_text=True)
    assert "Your membership renews on" in page
    assert "time to settle the fee" in page  # within the reminder window


def test_a_member_whose_year_is_settled_is_not_offered_a_waiver(app, client, store) -> None:
    add_request(store, state="awaiting-identity")
    log_in(app, client, "Example")
    assert "Ask for a waiver" in client.get("/me").get_data(True)
    store.record_payment(
        "Example", amount=2000, currency="USD", paid_on=date.today().isoformat(),
        method="card", reference="T-1", recorded_by="Admin One",
    )  # fmt: skip
    assert "Ask for a waiver" not in client.get("/me").get_data(True)
    token = _csrf(client, "/me")
    client.post("/waiver", data={"csrf_token": token, "reason": "a stale page"})
    assert "Your fee for this year is paid; there is nothing to waive." in _page(client, "/me")
    assert store.waivers("Example") == []


def test_a_key_its_audit_entry_and_its_job_are_recorded_together_or_not_at_all(
    app, client, store
) -> None:
    store.record_account("example", "person", "Example", 5001)
    log_in(app, client, "Example")
    token = _csrf(client, "/me")
    # The job queue refuses, as a full or damaged table would: the last step of the action.
    store.db.execute(
        "CREATE TRIGGER jobs_refused BEFORE INSERT ON jobs "
        "BEGIN SELECT RAISE(ABORT, 'jobs refused'); END"
    )
    with pytest.raises(Exception, match="jobs refused"):
        client.post("/keys", data={"csrf_token": token, "key": ssh_public_key()})
    assert store.ssh_keys("Example") == []
    assert [e.action for e in store.audit_log() if e.action.startswith("ssh-key")] == []

    store.db.execute("DROP TRIGGER jobs_refused")
    client.post("/keys", data={"csrf_token": token, "key": ssh_public_key()})
    assert len(store.ssh_keys("Example")) == 1
    assert [e.action for e in store.audit_log() if e.action.startswith(("ssh-key", "keys"))] == [
        "ssh-key-added",
        "keys-queued",
    ]
    assert [j.kind for j in store.member_jobs("Example")] == ["keys"]


def test_a_member_nobody_has_heard_of_is_a_404_with_no_forms(client_as, store) -> None:
    admin = client_as("Admin One")
    token = _csrf(admin, "/admin")
    page = admin.get("/admin/member/Nobody")
    assert page.status_code == 404
    assert "nobody called that has signed in or filed a request" in page.get_data(as_text=True)
    assert "/admin/member/Nobody/" not in page.get_data(as_text=True)  # no attest or payment form
    posted = admin.post(
        "/admin/member/Nobody/identification", data={"csrf_token": token, "method": "video call"}
    )
    assert posted.status_code == 404
    assert store.identifications("Nobody") == []
    assert [e.action for e in store.audit_log() if "Nobody" in str(e.evidence)] == []
    add_request(store, "Nobody")  # once they file a request, the page is there
    assert admin.get("/admin/member/Nobody").status_code == 200


def test_a_requester_not_eligible_is_told_what_next_and_shown_no_later_steps(
    app, client, store
) -> None:
    add_request(store, state="not-eligible")
    log_in(app, client, "Example")
    me = client.get("/me").get_data(as_text=True)
    assert "add {{ATS recheck}} under the request on the wiki" in me
    assert "come once a request of yours is eligible" in me
    assert 'id="terms"' not in me and 'id="keys"' not in me and 'id="fee"' not in me
    add_request(store, state="awaiting-requester", key="another")
    me = client.get("/me").get_data(as_text=True)
    assert 'id="terms"' in me and 'id="keys"' in me and 'id="fee"' in me
