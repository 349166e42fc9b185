"""Pages for everyone: the landing page and the public status of the queue.

`/status` and `/status.json` show the same data, built by `membership.status`, which
reads nothing private: open requests as the wiki already shows them, counts by state,
the median time to a decision.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, Response, jsonify, render_template

from bridge.sessions import current_store
from membership.status import public_status

blueprint = Blueprint("public", __name__)


@blueprint.get("/")
def landing() -> str:
    return render_template("landing.html")


@blueprint.get("/status")
def status() -> str:
    return render_template("status.html", status=public_status(current_store(), _now()))


@blueprint.get("/status.json")
def status_json() -> Response:
    response = jsonify(public_status(current_store(), _now()))
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


def _now() -> datetime:
    return datetime.now(UTC)
