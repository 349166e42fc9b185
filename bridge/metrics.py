"""`/metrics`: the deployment's health for Prometheus, read from the store per scrape.

A custom collector turns `membership.health.health(store)` into metric families at
each scrape, so the figures are those of every process writing the store (bot, bridge,
worker), not counters of the bridge process alone. The registry is the app's own, not
prometheus_client's global one, so two apps in one process (tests) do not collide.
"""

from __future__ import annotations

from collections.abc import Iterator

from flask import Blueprint, Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from bridge.sessions import current_store
from membership.health import Health, health

blueprint = Blueprint("metrics", __name__)


class StoreCollector:
    """Yields the metric families of one `Health` reading."""

    def __init__(self) -> None:
        self.reading: Health | None = None

    def collect(self) -> Iterator[Metric]:
        reading = self.reading or Health()
        requests = GaugeMetricFamily(
            "ats_requests", "Requests in the store by state", labels=["state"]
        )
        for state, n in sorted(reading.requests.items()):
            requests.add_metric([state], n)
        yield requests
        decisions = CounterMetricFamily(
            "ats_decisions",
            "Decision templates read, by kind and whether honoured",
            labels=["kind", "honoured"],
        )
        for (kind, honoured), n in sorted(reading.decisions.items()):
            decisions.add_metric([kind, "true" if honoured else "false"], n)
        yield decisions
        yield CounterMetricFamily(
            "ats_replies_posted", "Bot replies saved on the wiki", value=reading.replies_posted
        )
        yield GaugeMetricFamily(
            "ats_replies_pending",
            "Bot replies recorded but not yet saved on the wiki",
            value=reading.replies_pending,
        )
        jobs = GaugeMetricFamily("ats_jobs", "Provisioning jobs by state", labels=["state"])
        for state in sorted({"queued", "running", "done", "failed", *reading.jobs}):
            jobs.add_metric([state], reading.jobs.get(state, 0))
        yield jobs
        yield GaugeMetricFamily(
            "ats_jobs_failed",
            "Provisioning jobs that failed for good",
            value=reading.jobs.get("failed", 0),
        )
        yield CounterMetricFamily(
            "ats_logins", "Sign-ins to the bridge through the wiki's OAuth", value=reading.logins
        )
        yield GaugeMetricFamily(
            "ats_databases_over_limit",
            "Accounts whose databases were over [databases] size_limit_mb when last measured",
            value=reading.databases_over,
        )
        yield GaugeMetricFamily(
            "ats_last_bot_cycle_timestamp_seconds",
            "When the bot last finished a cycle (Unix time; 0: never)",
            value=reading.last_cycle.timestamp() if reading.last_cycle else 0,
        )


@blueprint.get("/metrics")
def metrics() -> Response:
    collector = StoreCollector()
    collector.reading = health(current_store())
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
