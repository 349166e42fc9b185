"""Pages for everyone: the landing page and the public status of the queue.

`/status` and `/status.json` show the same data, built by `membership.status`, which
reads nothing private: open requests as the wiki already shows them, counts by state,
the median time to a decision, and the waiver fund's balance and the number of waivers
it has paid (never who, why or how much each).

The page is the same for every reader of a language, and read far more often than the
store changes: its words are kept (`bridge.kept`) until the store changes, from any
process, and at most `KEPT_SECONDS`, for the days each request has waited.
"""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import resources
from typing import Any

from flask import Blueprint, Response, abort, jsonify, render_template

from bridge import kept
from bridge.auth import settings
from bridge.sessions import current_store
from bridge.views import render_markdown, split_title
from membership.health import health
from membership.status import public_fund, public_status

blueprint = Blueprint("public", __name__)
# How long the status page's words may be kept while the store does not change.
KEPT_SECONDS = 10


@blueprint.get("/")
def landing() -> str:
    return render_template("landing.html")


# The chapter's policies, as documents in policies/ (the terms have their own page).
POLICIES = {
    "privacy": "privacy.md",
    "identification": "identification.md",
    "fees": "fees.md",
    "terms": "terms.md",
}


@blueprint.get("/policies")
def policies() -> str:
    return render_template("policies.html", names=list(POLICIES), document=None)


@blueprint.get("/policies/<name>")
def policy(name: str) -> str:
    filename = POLICIES.get(name)
    if filename is None:
        abort(404)
    text = resources.files("policies").joinpath(filename).read_text("utf-8")
    if name == "terms":
        text = "\n".join(line for line in text.splitlines() if not line.startswith("version:"))
    title, body = split_title(text)  # the page is titled as the document is
    return render_template(
        "policies.html",
        names=list(POLICIES),
        document=render_markdown(body),
        document_title=title,
        name=name,
    )


@blueprint.get("/status")
def status() -> str:
    current_store()  # the store, made if it is new: its stamp is read from its file
    body = kept.kept(
        "status",
        (kept.address(), _now().date()),
        lambda: kept.part("_status_body.html", status=_status()),
        seconds=KEPT_SECONDS,
    )
    return render_template("status.html", body=body)


@blueprint.get("/status.json")
def status_json() -> Response:
    response = jsonify(_status())
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


def _status() -> dict[str, Any]:
    store = current_store()
    return {
        **public_status(store, _now()),
        "fund": public_fund(store, settings().fees),
        "health": health(store).as_json(_now()),  # what /metrics says, for people
    }


def _now() -> datetime:
    return datetime.now(UTC)
