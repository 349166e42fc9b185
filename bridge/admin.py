"""The chapter admins' desk: the queue, and the private facts only admins record.

Admins are the verified usernames the policy names (`[policy] admins`, or members of
`admin_group`). `/admin` is the queue, a page at a time, with filters by state and age,
and what waits for an admin (bridge/queue.py); a member's page lists what is known
about them (with their provisioning jobs: state, attempts, last error; the queue lists
every failing job) and holds the forms: attest identification (who, when
and the method — never a document or an ID number), record a payment, and decide
waivers (a grant needs a second admin's confirmation when `waiver_needs_second_admin`
is set in `policies/fees.toml`; `membership.fund.settle_waiver` pays a granted waiver
from the fund, queues it when the fund is short, or asks for a second admin, and its
message is what the admin sees). "Members to review" lists members the daily re-check
(`ats members check`) found locked, blocked, missing or hidden, with what the wiki
said and since when; it is for the admins alone and suspends nobody. The desk also
charts the fund's balance and the members' standing over the past year (inline SVG)
and offers the report as CSV (`/admin/report.csv`). No admin records facts
about themselves. Every action is audited without the private fact itself. An admin
suspends a member's account with a private reason, or restores it
(membership.suspensions). What the rules refuse rolls the action back and is told on
the member's page in the admin's language (bridge/refusals.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from flask import (
    Blueprint,
    abort,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response

from bridge import auth, desk, i18n, refusals
from bridge.auth import admin_required, current_member, settings
from bridge.queue import QueueFilters, desk_for
from bridge.said import Said, flash_said, job_kind, job_state
from bridge.sessions import current_store
from membership import fund, obligations, progress, standing, suspensions, waivers
from membership.records import JobRecord, RequestRecord
from membership.report import build_report, to_csv
from membership.store import Store
from policies.money import to_minor
from policies.usernames import canonical_username

blueprint = Blueprint("admin", __name__, url_prefix="/admin")
MAX_METHOD = 200
CURRENCY = re.compile(r"^[A-Z]{3}$")


@blueprint.get("")
@admin_required
def queue() -> str | Response:
    shown = desk_for(current_store(), request.args)
    if shown.html is None or request.args.get("page", "1") != str(shown.page.number):
        # Past the last page (the queue got shorter since the link was made), or not a
        # page at all: the page to show, at its own address.
        return redirect(QueueFilters.asked(request.args).url(shown.page.number))
    return render_template("admin_queue.html", desk=shown.html)


@blueprint.get("/report.csv")
@admin_required
def report_csv() -> Response:
    now = datetime.now(UTC)
    report = build_report(current_store(), settings().fees, now)
    response = make_response(to_csv(report))
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = (
        f'attachment; filename="ats-report-{now.date().isoformat()}.csv"'
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.get("/member/<username>")
@admin_required
def member(username: str) -> str:
    username = canonical_username(username)
    store = current_store()
    config = settings()
    own = progress.requests_of(store, username)
    _require_known(store, username, own)
    return render_template(
        "admin_member.html",
        username=username,
        identity=store.identity(username),
        identifications=store.identifications(username),
        payments=store.payments(username),
        waivers=store.waivers(username),
        keys=store.ssh_keys(username),
        requests=list(
            zip(
                own,
                progress.reports_for(store, own, config.terms.version, config.fees),
                strict=True,
            )
        ),
        today=date.today().isoformat(),
        account=store.account_of(username),
        admin_suspended=suspensions.suspended_by_admin(store, username),
        jobs=[*_by_request(store, own), *store.member_jobs(username)],
        standing=standing.standing_of(store, username),
        desk=desk.member_desk(store, _wiki(), username, own),
        wiki_links=_wiki(),
        finding_words=desk.finding_words,
        job_kind=job_kind,
        job_state=job_state,
    )


@blueprint.post("/member/<username>/identification")
@admin_required
def attest(username: str) -> Response:
    username, admin = _subject(username)
    method = " ".join(request.form.get("method", "").split())
    if not method or len(method) > MAX_METHOD:
        return _back(username, ("ats-bridge-flash-attest-method", {"max": MAX_METHOD}))

    def attested(store: Store) -> _Recorded:
        record = store.attest_identification(username, attested_by=admin, method=method)
        return _Recorded(
            [("ats-bridge-flash-attested", {"username": username})],
            "identification-attested",
            {"attestation_id": record.id},
        )

    return _act(username, admin, attested)


@blueprint.post("/member/<username>/payment")
@admin_required
def payment(username: str) -> Response:
    username, admin = _subject(username)
    fees = settings().fees
    form = request.form
    currency = form.get("currency", fees.currency).strip().upper()
    try:
        paid_on = date.fromisoformat(form.get("paid_on", "").strip())
    except ValueError:
        paid_on = None
    if not CURRENCY.match(currency) or paid_on is None or paid_on > date.today():
        return _back(username, ("ats-bridge-flash-payment-form", {}))

    def paid(store: Store) -> _Recorded:
        asked = {w.id for w in store.waivers(username, status="requested")}
        record = obligations.record_payment(
            store,
            fees,
            username,
            amount=minor,
            currency=currency,
            paid_on=paid_on,
            method=form.get("method", "").strip()[:100],
            reference=form.get("reference", "").strip()[:200],
            recorded_by=admin,
            today=date.today(),
        )
        moot = asked - {w.id for w in store.waivers(username, status="requested")}
        said: list[Said] = [
            ("ats-bridge-flash-payment-recorded", {"username": username, "id": record.id})
        ]
        if moot:
            said.append(("ats-bridge-flash-payment-waiver-withdrawn", {"id": min(moot)}))
        return _Recorded(
            said,
            "payment-recorded",
            {"payment_id": record.id},
        )

    # The amount, the fee rules and a known reference refuse in one sentence.
    with refusals.framed("ats-bridge-flash-not-recorded"):
        minor = to_minor(form.get("amount", ""), currency)
        return _act(username, admin, paid)


@blueprint.post("/waiver/<int:waiver_id>")
@admin_required
def waiver(waiver_id: int) -> Response:
    member = current_member()
    assert member is not None
    record = current_store().waiver(waiver_id)
    if record is None:
        abort(404, description=i18n.text("ats-bridge-error-no-such-waiver"))
    refusals.back_to(url_for("admin.member", username=record.username))
    step = waivers.decide(
        record,
        member.username,
        request.form.get("action", ""),
        needs_second=settings().fees.waiver_needs_second_admin,
    )

    def settled(store: Store) -> _Recorded:
        # Refused when another admin got there first.
        outcome = fund.settle_waiver(
            store, record, step, member.username, settings().fees, date.today()
        )
        # The fund's rules audit what they did (granted, queued, asked a second admin).
        words = desk.settled_words(outcome, settings().fees.currency, record.id)
        return _Recorded([words], ok=outcome.ok)

    return _act(record.username, member.username, settled)


@blueprint.post("/member/<username>/suspension")
@admin_required
def suspension(username: str) -> Response:
    """Suspend (with a private reason) or restore the member's account."""
    username, admin = _subject(username)
    restoring = request.form.get("action") == "restore"

    def decided(store: Store) -> _Recorded:
        if restoring:
            job = suspensions.restore(store, username, admin)
        else:
            job = suspensions.suspend(store, username, request.form.get("reason", ""), admin)
        done = "restored" if restoring else "suspended"
        # membership.suspensions audits who decided and when (the reason stays on the account).
        return _Recorded([(f"ats-bridge-flash-{done}", {"username": username, "job": job.id})])

    return _act(username, admin, decided)


@dataclass(frozen=True)
class _Recorded:
    """What an admin action recorded: the line the admin sees, and its audit entry
    (none when the rules that recorded the fact audit it themselves)."""

    message: list[Said]
    audit_action: str = ""
    audit_details: dict[str, Any] = field(default_factory=dict)
    ok: bool = True


def _act(username: str, admin: str, record: Callable[[Store], _Recorded]) -> Response:
    """One admin action about `username`, the same way every time: the fact recorded,
    its audit entry (without the private fact itself) and their requests re-evaluated
    (what the fact unlocks), all in one transaction, so all of it is kept or none;
    then the outcome shown to the admin on the member's page. A refusal of the rules
    rolls the transaction back and reaches the admin as every refusal does
    (bridge/refusals.py), on the member's page."""
    store = current_store()
    with store.transaction():
        done = record(store)
        if done.audit_action:
            store.audit(admin, done.audit_action, subject=username, **done.audit_details)
        auth.advance(username, admin)
    return _back(username, *done.message, category="success" if done.ok else "error")


def _wiki() -> desk.WikiLinks:
    return desk.WikiLinks.from_api(settings().wiki_api)


def _by_request(store: Store, own: Sequence[RequestRecord]) -> list[JobRecord]:
    """The jobs of the member's requests, request by request as `own` lists them."""
    jobs = store.jobs_of_requests(r.id for r in own)
    return [job for r in own for job in jobs if job.request_id == r.id]


def _subject(username: str) -> tuple[str, str]:
    member = current_member()
    assert member is not None
    username = canonical_username(username)
    if username == member.username:
        abort(403, description=i18n.text("ats-bridge-error-not-yourself"))
    store = current_store()
    _require_known(store, username, progress.requests_of(store, username))
    refusals.back_to(url_for("admin.member", username=username))  # where a refused form goes
    return username, member.username


def _require_known(store: Store, username: str, own: Sequence[object]) -> None:
    """A 404 for a name the bridge has never heard of (no sign-in, request, account,
    payment or waiver request): no page, and no form that would record a fact about
    nobody."""
    if (
        not own
        and store.identity(username) is None
        and store.account_of(username) is None
        and not store.payments(username)
        and not store.waivers(username)
    ):
        abort(404, description=i18n.text("ats-bridge-error-no-such-member"))


def _back(username: str, *said: Said, category: str = "error") -> Response:
    """Back to the member's page, showing what was said (an error unless told otherwise):
    a message by key and parameters, put into words in the reader's language, or text
    the rules wrote."""
    for message in said:
        flash_said(message, category)
    return redirect(url_for("admin.member", username=username))
