"""Pages for everyone: the landing page and the public status of the queue.

`/status` and `/status.json` show the same data, built by `membership.status`, which
reads nothing private: open requests as the wiki already shows them, counts by state,
the median time to a decision, and the waiver fund's balance and the number of waivers
it has paid (never who, why or how much each).
"""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import resources
from typing import Any

from flask import Blueprint, Response, abort, jsonify, render_template

from bridge.auth import settings
from bridge.sessions import current_store
from bridge.views import render_markdown, split_title
from membership.health import health
from membership.status import public_fund, public_status

blueprint = Blueprint("public", __name__)


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
    return render_template("status.html", status=_status())


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
