"""The floor `/status` is measured against: the same rows from the same store, with
nothing but Flask, Jinja and waitress.

One SELECT per request (the open requests, only the columns shown) on a connection
opened for the request and closed after it, as the Flask tutorial does; the words of
each type and state read once from `i18n/en.json`; the filing day written as English
writes it ("30 November 2026"). No session, no language choice, no access log: what
a page of these rows costs at the least. Its `<tbody>` rows are byte for byte the
English `/status`'s, which `bench/bench_bridge.py` checks before it measures anything.

Run by `bench/bench_bridge.py` in a process of its own:
``python bench/bare_page.py STORE PORT`` (waitress, 8 threads, as `ats bridge serve`).
"""

from __future__ import annotations

import json
import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path

import flask
from jinja2 import DictLoader
from markupsafe import Markup
from waitress import serve

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bridge.i18n import STATE_ICONS  # noqa: E402 - a table of symbols, nothing more
from membership.states import CLOSED  # noqa: E402

MONTHS = (
    "January February March April May June July August September October November December"
).split()

ROW = (
    "<tr><td>{{ row.heading }}</td><td>{{ row.subject }}</td>"
    "<td>{{ types.get(row.type, row.type) }}</td>"
    '<td><span class="ats-state ats-state--{{ row.state }}">'
    '<span aria-hidden="true">{{ icons.get(row.state, "") }}</span> {{ states[row.state] }}'
    "</span></td>"
    '<td><time datetime="{{ row.day }}">{{ row.day_words }}</time></td>'
    "<td>{{ row.days }}</td></tr>"
)
PAGE = f"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Open requests</title></head>
<body>
<table>
  <thead><tr>
    <th>Request</th><th>Account</th><th>Type</th><th>State</th><th>Filed</th><th>Days</th>
  </tr></thead>
  <tbody>
  {{% for row in rows %}}
  {ROW}
  {{% endfor %}}
  </tbody>
</table>
</body>
</html>
"""
COLUMNS = "heading, subject, type, state, intro_timestamp, created_at"
PLACES = ", ".join("?" * len(CLOSED))
OPEN_ROWS = f"SELECT {COLUMNS} FROM requests WHERE state NOT IN ({PLACES}) ORDER BY id"  # noqa: S608


def words() -> tuple[dict[str, Markup], dict[str, Markup]]:
    """The English words of each request type and state, as the bridge's messages (the
    project's own file, checked by the bridge's tests: markup as it stands)."""
    english = {
        key: Markup(text)  # noqa: S704 - see above
        for key, text in json.loads((ROOT / "i18n" / "en.json").read_text("utf-8")).items()
        if key.startswith("ats-bridge-")
    }
    types = {kind: english[f"ats-bridge-type-{kind}"] for kind in ("account", "tool")}
    prefix = "ats-bridge-state-"
    states = {key[len(prefix) :]: text for key, text in english.items() if key.startswith(prefix)}
    return types, states


def create_app(store: Path) -> flask.Flask:
    app = flask.Flask(__name__)
    app.jinja_loader = DictLoader({"open.html": PAGE})
    types, states = words()
    closed = sorted(str(state) for state in CLOSED)

    @app.get("/")
    def open_requests() -> str:
        now = datetime.now(UTC)
        connection = sqlite3.connect(store, timeout=10)
        try:
            found = connection.execute(OPEN_ROWS, closed).fetchall()
        finally:
            connection.close()
        rows = []
        for heading, subject, kind, state, intro_timestamp, created_at in found:
            filed = datetime.fromisoformat(intro_timestamp or created_at)
            day = filed.date()
            rows.append(
                {
                    "heading": heading,
                    "subject": subject,
                    "type": kind,
                    "state": state,
                    "day": day.isoformat(),
                    "day_words": f"{day.day} {MONTHS[day.month - 1]} {day.year}",
                    "days": max(0, (now - filed).days),
                }
            )
        return flask.render_template(
            "open.html", rows=rows, types=types, states=states, icons=STATE_ICONS
        )

    return app


def main() -> None:
    store, port = Path(sys.argv[1]), int(sys.argv[2])
    serve(create_app(store), host="127.0.0.1", port=port, threads=8, ident="bare-page")


if __name__ == "__main__":
    main()
