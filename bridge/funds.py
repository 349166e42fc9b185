"""The admins' money page, `/admin/fund`: refunds, expenses and transfers into the fund.

For the chapter's admins only (`admin_required`). The page shows operating money, the
waiver fund, the monthly cost, the reserve and the surplus that may move into the
fund, and holds three forms: move surplus into the fund, record an operating expense,
refund (part of) a member's payment. `membership.outflows` decides each one inside a
store write transaction (`membership.cover` holds the rules); an amount above the fee
policy's `second_admin_above` waits in "Waiting for a second admin" until another
admin confirms it (or someone withdraws it). Every form carries a one-time `form_id`,
so a form sent twice (a double click, two tabs, a reload) is recorded once. A refusal
or a lost race (already sent, already confirmed by another admin: a `Conflict`) is the
page again with one clear sentence and status 400 or 409 (`refusals.shown_on`, for
every form here); a success redirects back with a notice.
"""

from __future__ import annotations

import re
import secrets
from datetime import date

from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from bridge import refusals
from bridge.auth import admin_required, current_member, settings
from bridge.said import Later, flash_said, markup
from bridge.sessions import current_store
from membership import outflows
from policies.errors import Refusal
from policies.money import format_minor, to_minor
from policies.words import Words

blueprint = Blueprint("funds", __name__, url_prefix="/admin/fund")
FORM_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
MAX_NOTE = 200


@blueprint.before_request
def _refused_here() -> None:
    refusals.shown_on(_render)


@blueprint.get("")
@admin_required
def page() -> str:
    return _render()


@blueprint.post("/transfer")
@admin_required
def transfer() -> Response:
    return _propose("transfer")


@blueprint.post("/expense")
@admin_required
def expense() -> Response:
    return _propose("expense")


@blueprint.post("/refund")
@admin_required
def refund() -> Response:
    return _propose("refund")


@blueprint.post("/action/<int:action_id>/confirm")
@admin_required
def confirm(action_id: int) -> Response:
    outcome = outflows.confirm(current_store(), action_id, _admin(), settings().fees, date.today())
    flash_said(outcome.message, "success")
    return redirect(url_for("funds.page"), code=303)


@blueprint.post("/action/<int:action_id>/withdraw")
@admin_required
def withdraw(action_id: int) -> Response:
    outcome = outflows.withdraw(current_store(), action_id, _admin(), settings().fees)
    flash_said(outcome.message, "success")
    return redirect(url_for("funds.page"), code=303)


def _propose(kind: str) -> Response:
    fees = settings().fees
    form = request.form
    with refusals.framed("ats-bridge-flash-not-recorded"):
        amount = to_minor(form.get("amount", ""), fees.currency)
    note = " ".join(form.get("note", "").split())
    if len(note) > MAX_NOTE:
        raise Refusal(
            Words(
                f"Keep the note under {MAX_NOTE} characters.",
                "ats-bridge-outflow-note-too-long",
                max=MAX_NOTE,
            )
        )
    on = None
    if kind == "expense":
        try:
            on = date.fromisoformat(form.get("on", "").strip())
        except ValueError:
            on = None
        if on is None or on > date.today():
            raise Refusal(
                Words(
                    "Give the day the expense was paid (not in the future).",
                    "ats-bridge-outflow-expense-day",
                )
            )
    payment_id = None
    if kind == "refund":
        try:
            payment_id = int(form.get("payment", ""))
        except ValueError:
            raise Refusal(outflows.choose_payment()) from None
    form_id = form.get("form_id", "")
    if not FORM_ID.match(form_id):
        form_id = secrets.token_urlsafe(16)  # an old or hand-made form: still recorded once
    outcome = outflows.propose(
        current_store(),
        form_id,
        kind,
        amount,
        _admin(),
        fees,
        date.today(),
        on=on,
        note=note,
        payment_id=payment_id,
    )
    flash_said(outcome.message, "success")
    return redirect(url_for("funds.page"), code=303)


def _render(error: Later | None = None) -> str:
    fees, me = settings().fees, _admin()
    store = current_store()
    entries = store.ledger_entries()
    # No admin refunds their own payment: it is not offered.
    payments = [p for p in outflows.refundable_payments(entries, fees) if p[0].member != me]
    waiting = store.fund_actions(status="proposed", limit=None)  # each needs a decision
    # The last 30 decided: among the latest 30 actions and every one still waiting.
    latest = store.fund_actions(limit=30 + len(waiting))
    return render_template(
        "admin_fund.html",
        error=error,
        position=outflows.position(entries, fees, date.today()),
        payments=payments[:200],
        waiting=waiting,
        recent=[a for a in latest if a.status != "proposed"][:30],
        describe=lambda action: markup(outflows.describe(action, fees)),
        amount=lambda minor: f"{format_minor(minor, fees.currency)} {fees.currency}",
        me=me,
        today=date.today().isoformat(),
        form_id=lambda: secrets.token_urlsafe(16),
    )


def _admin() -> str:
    member = current_member()
    assert member is not None  # admin_required
    return member.username
