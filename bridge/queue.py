"""The admins' queue (`/admin`): which requests it lists, a page at a time, and what of
it is kept from one view to the next.

The address says what is listed: the requests of a state (`open`, every request not
closed, by default; `all`; or one state), filed at least `older_than` days ago, `limit`
rows a page (50 by default), page `page`, in order of filing; every request is on some
page of `all`. The store reads only the page's rows and counts the others. Beside the
queue the desk lists what waits for an admin — members to review, failing provisioning
jobs, accounts whose databases are over the limit, waivers asked — and charts the
fund's balance and the members' standing over the past year (inline SVG).

The desk is read far more often than the store changes, and putting 50 rows into words
(their gates, how long ago each was filed) is most of its cost: the desk's HTML is kept
(`bridge.kept`) for the same address and language until the store changes, from any
process, and at most `KEPT_SECONDS`, for the "3 days ago" it shows; the charts, a year
of the ledger and of every member's standing, are kept until the store changes or the
day does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import request, url_for
from markupsafe import Markup

from bridge import dates, desk, i18n, kept, paging
from bridge.auth import settings
from bridge.charts import Series, line_chart
from bridge.paging import Page
from bridge.said import job_kind, job_state
from membership import history, progress, standing
from membership.states import CLOSED, State
from membership.store import Store
from policies.money import format_minor
from policies.times import iso

# The rows of a page (as the address may ask: `limit`), and the sizes offered.
PAGE_SIZE = 50
PAGE_SIZES = (20, 50, 100, 200)
MAX_DAYS = 36_500  # "older than" beyond a century finds what a century finds: nothing
# How long the desk's words may be kept while the store does not change: "3 days ago"
# and "5 minutes ago" move with the clock alone.
KEPT_SECONDS = 10


@dataclass(frozen=True)
class QueueFilters:
    """What the queue lists, as its address says (see the module's docstring)."""

    state: str = "open"
    older_than: int = 0
    limit: int = PAGE_SIZE

    @classmethod
    def asked(cls, args: Mapping[str, str]) -> QueueFilters:
        return cls(
            args.get("state") or "open",
            paging.number(args.get("older_than"), 0, high=MAX_DAYS),
            paging.number(args.get("limit"), PAGE_SIZE, low=1, high=paging.MAX_SIZE),
        )

    def selection(self, now: datetime) -> dict[str, Any]:
        """The filters as the store's `requests_listed` takes them."""
        chosen: dict[str, Any] = {}
        if self.state == "open":
            chosen["other_than"] = sorted(CLOSED)
        elif self.state != "all":
            chosen["states"] = [self.state]
        if self.older_than:
            chosen["created_until"] = iso(now - timedelta(days=self.older_than))
        return chosen

    def url(self, page: int = 1) -> str:
        """The queue's address for `page` with these filters (the defaults left out) and
        the language the address asked for, if any."""
        given: dict[str, Any] = {
            name: value
            for name, value, default in (
                ("state", self.state, "open"),
                ("older_than", self.older_than, 0),
                ("limit", self.limit, PAGE_SIZE),
                ("page", page, 1),
            )
            if value != default
        }
        if "uselang" in request.args:
            given["uselang"] = request.args["uselang"]
        return url_for("admin.queue", **given)


@dataclass(frozen=True)
class DeskPage:
    """The desk as shown for one address: the page of the queue, and the HTML of the
    page's content (None when the page asked for is not the one to show)."""

    page: Page
    html: Markup | None


def desk_for(store: Store, args: Mapping[str, str]) -> DeskPage:
    """The desk for the address's filters and page (kept: see the module's docstring)."""
    asked = QueueFilters.asked(args)
    number = paging.number(args.get("page"), 1, low=1)
    key = (kept.address(), asked, number, date.today())
    return kept.kept("admin-desk", key, lambda: _desk(store, asked, number), seconds=KEPT_SECONDS)


def _desk(store: Store, asked: QueueFilters, number: int) -> DeskPage:
    config = settings()
    selected = asked.selection(datetime.now(UTC))
    page = Page.of(number, asked.limit, store.requests_counted(**selected))
    if page.number != number:
        return DeskPage(page, None)
    records = store.requests_listed(**selected, limit=page.size, offset=page.offset)
    # The gates of every row from one reading of what is known of their people.
    reports = progress.reports_for(store, records, config.terms.version, config.fees)
    failed_jobs = store.failing_jobs()
    asked_of = (j.request_id for j in failed_jobs if j.request_id is not None)
    html = kept.part(
        "_admin_desk.html",
        rows=list(zip(records, reports, strict=True)),
        page=page,
        asked=asked,
        states=[s.value for s in State],
        page_sizes=sorted({*PAGE_SIZES, asked.limit}),
        earlier=store.subjects_counted({r.subject for r in records}, desk.EARLIER),
        to_review=standing.flagged(store),
        failed_jobs=failed_jobs,
        requests_by_id={r.id: r for r in store.summaries_among(asked_of)},
        databases_over=store.database_usage(over=True),
        charts=_charts(store),
        fund_waiting=store.fund_actions_counted("proposed"),
        waivers=store.waivers(status="requested"),
        wiki_links=desk.WikiLinks.from_api(config.wiki_api),
        finding_words=desk.finding_words,
        job_kind=job_kind,
        job_state=job_state,
    )
    return DeskPage(page, html)


def _charts(store: Store) -> dict[str, Markup]:
    """The fund's balance and the members' standing at each of the last twelve
    month-ends: a year of the ledger and of every member's standing, summed again only
    when the store changed (or the day, or the reader's language)."""
    today = date.today()
    return kept.kept("admin-charts", (kept.language(), today), lambda: _drawn(store, today))


def _drawn(store: Store, today: date) -> dict[str, Markup]:
    fees = settings().fees
    days = history.month_ends(today)
    labels = [dates.month(d) for d in days]
    entries = [e for e in store.ledger_entries() if e.currency == fees.currency]
    standings = history.standing_series(store, fees, entries, days)
    colours = {"paid": "#14866d", "waived": "#36c", "grace": "#ac6600", "lapsed": "#d33"}
    return {
        "fund": line_chart(
            _words("ats-bridge-chart-fund-title", currency=fees.currency),
            labels,
            [
                Series(
                    _words("ats-bridge-chart-series-fund"),
                    "#36c",
                    history.fund_series(entries, days),
                )
            ],
            lambda amount: format_minor(amount, fees.currency),
        ),
        "members": line_chart(
            _words("ats-bridge-chart-members-title"),
            labels,
            [
                Series(_words(f"ats-bridge-chart-series-{s}"), colours[s], counts)
                for s, counts in standings.items()
            ],
        ),
    }


def _words(key: str, **params: object) -> str:
    """A message as plain text, for a chart (which escapes every text itself)."""
    return i18n.text(key, **params).striptags()
