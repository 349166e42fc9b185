"""The requester's side: log in with the wiki account, then pass the off-wiki gates.

`/login` sends the browser to the wiki's OAuth page (rate-limited per client), keeping
the exchange's private data in the server-side session; `/oauth/callback` finishes it
and signs the member in; `/me` shows their requests (those whose subject is their
verified username) with every gate and the next step, and the forms: accept the
terms, add or remove SSH keys (a member who already has an account gets a "keys"
job, so the change reaches the account), ask for a fee waiver (the reason is kept private), and
how to pay. Each form records a fact, writes an audit entry without private data,
and lets `membership.progress` move the member's requests forward; what the rules refuse
(a bad key, a second waiver request) is one line on /me in the member's language
(bridge/refusals.py).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers import Response

from bridge import auth, i18n, refusals
from bridge.auth import current_member, login_required, settings
from bridge.i18n import flash_message
from bridge.oauth import OAuthClient, OAuthError
from bridge.security import client_key, rate_limited, safe_next, sign_in_finished
from bridge.sessions import current_store
from bridge.views import render_markdown
from membership import accounts, fund, member_file, obligations, progress, renewal
from membership.records import QueuedWaiver, WaiverRecord
from membership.states import State
from policies.sshkeys import parse_public_key

blueprint = Blueprint("requester", __name__)
log = logging.getLogger(__name__)
MAX_REASON = 4000


def _oauth() -> OAuthClient:
    return current_app.extensions["ats_oauth"]


LOGIN_FAILED = "ats-bridge-login-failed"


@blueprint.get("/login")
def login() -> Response | tuple[str, int]:
    config = settings()
    store = current_store()
    key = client_key(config.session_key)
    if rate_limited(store, key, config.login_limit, config.login_window_seconds):
        log.info("login rate limit reached")
        minutes = max(1, config.login_window_seconds // 60)
        body = render_template(
            "error.html",
            title_key="ats-bridge-error-429",
            text_key="ats-bridge-login-rate-limited",
            text_params={"num_minutes": minutes},
        )
        return body, 429
    store.purge_expired_sessions()
    try:
        url, kept = _oauth().start()
    except OAuthError as error:
        return render_template("error.html", title_key=LOGIN_FAILED, text=str(error)), 502
    session["oauth_kept"] = dict(kept)
    session["next"] = safe_next(request.args.get("next"))
    return redirect(url)


@blueprint.get("/oauth/callback")
def callback() -> Response | tuple[str, int]:
    kept = session.pop("oauth_kept", None)
    target = safe_next(session.pop("next", None))
    if not kept:
        body = render_template(
            "error.html", title_key=LOGIN_FAILED, text_key="ats-bridge-login-not-started"
        )
        return body, 400
    try:
        identity = _oauth().finish(kept, request.args)
    except OAuthError as error:
        return render_template("error.html", title_key=LOGIN_FAILED, text=str(error)), 400
    auth.sign_in(identity.username, identity.central_id, identity.groups, identity.version)
    sign_in_finished(current_store(), client_key(settings().session_key))
    return redirect(target)


@blueprint.post("/logout")
def logout() -> Response:
    auth.sign_out()
    return redirect(url_for("public.landing"))


@blueprint.get("/me")
@login_required
def me() -> str:
    member = current_member()
    assert member is not None
    config = settings()
    today = datetime.now(UTC).date()
    # Everything the page shows of the member, read at once (membership/member_file.py).
    mine = member_file.read(current_store(), member.username, config.terms.version)
    own = mine.requests
    reports = progress.reports_from(mine.known(), own, config.fees, today)
    requests = list(zip(own, reports, strict=True))
    # Failures are said plainly, never with the technical error (that is for admins).
    failing = {job.request_id: job for job in mine.request_jobs if job.failing}
    account_failing = [job for job in mine.member_jobs if job.failing]
    # The terms, keys and fee are for a request that may go ahead: not for one still
    # being judged, malformed or not eligible (nor shown to someone with only those).
    not_yet = {State.RECEIVED, State.INVALID, State.NOT_ELIGIBLE}
    asked = mine.waivers
    steps_open = (
        not requests
        or mine.account is not None
        or any(record.state not in not_yet for record, _ in requests)
    )
    return render_template(
        "me.html",
        steps_open=steps_open,
        requests=requests,
        failing=failing,
        account_failing=account_failing,
        keys=mine.ssh_keys,
        terms_accepted=mine.terms_accepted,
        terms_version=config.terms.version,
        waivers=asked,
        waiver_words=_waiver_words(mine.waiver_queue, asked, config.fees),
        payments=mine.payments,
        membership=_membership(mine, config.fees, today),
        # Only that an admin suspended it, and whom to ask: the reason is the admins'.
        admin_suspended=mine.suspended_by_admin,
        admins=", ".join(config.policy.admins),
        tools=[(record.shell_name, people) for record, people in mine.tools()],
    )


def _waiver_words(
    queue: Sequence[QueuedWaiver], asked: Sequence[WaiverRecord], fees: Any
) -> tuple[str, dict[str, Any]] | None:
    """The message (key, parameters) saying where the member's latest waiver (of those
    `asked`) stands; the same cases as `fund.requester_message`, which words it in English
    for the CLI."""
    if not asked:
        return None
    waiver = asked[-1]
    position = fund.position_in(queue, waiver.id)
    if position is not None:
        return "ats-bridge-waiver-in-line", {"position": position}
    if waiver.status in ("granted", "withdrawn", "refused"):
        return f"ats-bridge-waiver-{waiver.status}", {}
    if fees.waiver_needs_second_admin or waiver.awaiting_confirmation:
        return "ats-bridge-waiver-two-admins", {}
    return "ats-bridge-waiver-with-admins", {}


def _membership(mine: member_file.MemberFile, fees: Any, today: date) -> dict[str, Any] | None:
    """The member's standing and renewal date, with a reminder when it is near."""
    standing = mine.standing(fees, today)
    if standing.paid_until is None:
        return None
    due = renewal.reminder_stage(fees, standing.paid_until, today) is not None
    return {
        "standing": standing.standing,
        "renews_on": standing.renews_on,
        "remind": due or standing.standing in ("grace", "lapsed"),
    }


@blueprint.get("/terms")
@login_required
def terms() -> str:
    member = current_member()
    assert member is not None
    config = settings()
    return render_template(
        "terms.html",
        terms=config.terms,
        terms_html=render_markdown(config.terms.text),
        accepted=current_store().terms_accepted(member.username, config.terms.version),
    )


@blueprint.post("/terms")
@login_required
def accept_terms() -> Response:
    member = current_member()
    assert member is not None
    version = settings().terms.version
    if request.form.get("version") != version:
        flash_message("ats-bridge-flash-terms-changed", "error")
        return redirect(url_for("requester.terms"))
    store = current_store()
    with store.transaction():
        if store.accept_terms(member.username, version):
            store.audit(member.username, "terms-accepted", version=version)
            auth.advance(member.username, member.username)
    flash_message("ats-bridge-flash-terms-accepted", "success", version=version)
    return redirect(url_for("requester.me"))


@blueprint.post("/keys")
@login_required
def add_key() -> Response:
    member = current_member()
    assert member is not None
    refusals.back_to(url_for("requester.me") + "#keys")
    key = parse_public_key(request.form.get("key", ""))
    store = current_store()
    # A key already on the account: "Not added: …".
    with refusals.framed("ats-bridge-flash-key-not-added"), store.transaction():
        # The key, its audit entry, what it unlocks and its job.
        record = accounts.add_key(store, member.username, key, member.username)
        auth.advance(member.username, member.username)
        accounts.keys_changed(store, member.username)
    flash_message("ats-bridge-flash-key-added", "success", fingerprint=record.fingerprint)
    return redirect(url_for("requester.me") + "#keys")


@blueprint.post("/keys/<int:key_id>/remove")
@login_required
def remove_key(key_id: int) -> Response:
    member = current_member()
    assert member is not None
    store = current_store()
    with store.transaction():
        removed = store.remove_ssh_key(member.username, key_id)
        if removed is not None:
            store.audit(member.username, "ssh-key-removed", fingerprint=removed.fingerprint)
            auth.advance(member.username, member.username)
            accounts.keys_changed(store, member.username)
    if removed is None:
        abort(404, description=i18n.text("ats-bridge-error-no-such-key"))
    flash_message("ats-bridge-flash-key-removed", "success", fingerprint=removed.fingerprint)
    return redirect(url_for("requester.me") + "#keys")


@blueprint.post("/waiver")
@login_required
def ask_waiver() -> Response:
    member = current_member()
    assert member is not None
    reason = request.form.get("reason", "").strip()
    if not reason:
        flash_message("ats-bridge-flash-reason-missing", "error")
        return redirect(url_for("requester.me") + "#fee")
    if len(reason) > MAX_REASON:
        flash_message("ats-bridge-flash-reason-too-long", "error", num_max=MAX_REASON)
        return redirect(url_for("requester.me") + "#fee")
    refusals.back_to(url_for("requester.me") + "#fee")
    obligations.request_waiver(
        current_store(), settings().fees, member.username, reason, date.today()
    )
    flash_message("ats-bridge-flash-waiver-sent", "success")
    return redirect(url_for("requester.me") + "#fee")
