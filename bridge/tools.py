"""A tool's page on the bridge: its maintainers, and the forms that change them.

`/tool/NAME` shows the tool's maintainers and the history of changes to them to its
maintainers and to the admins (anyone else gets 403). A maintainer adds a co-maintainer
by wiki username (`POST /tool/NAME/add`, field `username`) or removes one, themself
included while another remains (`POST /tool/NAME/remove`, field `username`); both carry
the CSRF token like every form. `membership.maintainers` checks and records each change
in one transaction with its audit entry and the job that brings the tool's group (its
`become`) to the new set; a refusal is one line in the reader's language on the tool's
page (bridge/refusals.py: an unknown tool is a 404, a change by someone with no say a
403). The page also shows where the tool runs (bridge/runs.py) and its databases: its
database user, each database's size and their total against the chapter's limit, as
the databases service last measured them (the store's record; the bridge never asks the
database server). The member's page lists their tools (`_tools.html`, from
`MemberFile.tools`).
"""

from __future__ import annotations

from typing import Any

from babel.numbers import format_decimal
from flask import Blueprint, redirect, render_template, request, url_for
from markupsafe import Markup
from werkzeug.wrappers import Response

from bridge import dates, i18n, refusals
from bridge.auth import current_member, is_admin, login_required, settings
from bridge.i18n import flash_message
from bridge.runs import runs_of
from bridge.sessions import current_store
from membership import maintainers

blueprint = Blueprint("tools", __name__)
MB = 1024 * 1024


@blueprint.get("/tool/<name>")
@login_required
def tool(name: str) -> str:
    member = current_member()
    assert member is not None
    store = current_store()
    record = maintainers.tool_account(store, name)
    people = maintainers.maintainers_of(store, record.shell_name)
    mine = member.username in people
    if not mine and not is_admin(member):
        raise maintainers.not_a_maintainer(name)
    job, job_error = _job_state(store, record.shell_name)
    return render_template(
        "tool.html",
        tool=record.shell_name,
        maintainers=people,
        mine=mine,
        job=job,
        # The worker's own words, for the admins only: they are the ones who can act.
        job_error=job_error if is_admin(member) else "",
        history=[_history_line(entry) for entry in maintainers.history(store, record.shell_name)],
        runs=runs_of(record.shell_name, store.tool_jobs(record.shell_name), settings().web_url),
        databases=store.database_usage_of("tool", record.shell_name),
    )


@blueprint.app_template_filter("megabytes")
def megabytes(size: int) -> Markup:
    """A size in MB (of 1024 × 1024 bytes, as the databases' limit), with one decimal, as
    the reader's language writes the number and the unit."""
    number = format_decimal(size / MB, format="#,##0.0", locale=dates.reader_locale())
    return i18n.text("ats-bridge-tool-db-size", size=number)


@blueprint.post("/tool/<name>/add")
@login_required
def add(name: str) -> Response:
    return _change(name, maintainers.add, "ats-bridge-tool-flash-added")


@blueprint.post("/tool/<name>/remove")
@login_required
def remove(name: str) -> Response:
    return _change(name, maintainers.remove, "ats-bridge-tool-flash-removed")


def _change(name: str, change: Any, done_key: str) -> Response:
    member = current_member()
    assert member is not None
    whom = request.form.get("username", "").strip()
    refusals.back_to(url_for("tools.tool", name=name))
    if not whom:
        flash_message("ats-bridge-tool-name-missing", "error")
        return redirect(url_for("tools.tool", name=name))
    made = change(current_store(), name, member.username, whom)
    flash_message(done_key, "success", name=made.whom, tool=made.tool)
    if made.action == maintainers.REMOVED and made.whom == member.username:
        return redirect(url_for("requester.me"))  # no longer theirs to see
    return redirect(url_for("tools.tool", name=name))


def _job_state(store: Any, tool: str) -> tuple[str | None, str]:
    """Where the tool's latest change stands on its way to the login hosts, said plainly
    (None once it is there), and the worker's error on the way (for the admins)."""
    for job in store.member_jobs(maintainers.job_member(tool)):
        if job.state == "failed":
            return "failed", str(job.last_error or "")
        if job.state in ("queued", "running"):
            return ("retrying" if job.last_error else "pending"), str(job.last_error or "")
    return None, ""


def _history_line(entry: Any) -> tuple[str, dict[str, Any]]:
    """The message (key, parameters) telling one change to the tool's maintainers."""
    said = entry.evidence
    when = dates.words(entry.at)  # in the reader's language, as every date the bridge shows
    if entry.action == maintainers.ADDED:
        return "ats-bridge-tool-history-added", {"date": when, "actor": entry.actor, **_whom(said)}
    if entry.action == maintainers.REMOVED:
        return "ats-bridge-tool-history-removed", {
            "date": when,
            "actor": entry.actor,
            **_whom(said),
        }
    if entry.action == "tool-converged":
        names = ", ".join(said.get("maintainers", []))
        who = str(said.get("by") or entry.actor)
        return "ats-bridge-tool-history-set", {"date": when, "actor": who, "names": names}
    names = ", ".join(said.get("members", [])) or "—"
    return "ats-bridge-tool-history-applied", {"date": when, "names": names}


def _whom(said: Any) -> dict[str, str]:
    return {"name": str(said.get("whom", ""))}
