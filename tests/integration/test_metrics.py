"""`/metrics` and `/status.json` of the real bridge (`ats bridge serve`) report what the
bot, in another process, did on the real wiki: scraped and parsed with
prometheus_client's own parser."""

from __future__ import annotations

import time
from collections.abc import Callable

import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.builders import request_wikitext
from tests.integration.bridge_server import BridgeServer
from tests.integration.conftest import WikiBot


def scrape(bridge: BridgeServer) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = requests.get(bridge.url + "/metrics", timeout=15)
    assert response.status_code == 200
    kind = response.headers["Content-Type"]
    assert kind.startswith("text/plain; version=") and kind.count("charset") == 1
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def test_metrics_show_the_bots_work_from_the_store(
    wikibot: WikiBot, bridge_server: Callable[..., BridgeServer]
) -> None:
    bridge = bridge_server()
    before = scrape(bridge)
    assert before[("ats_replies_posted_total", ())] == 0
    assert before[("ats_last_bot_cycle_timestamp_seconds", ())] == 0
    assert before[("ats_jobs", (("state", "failed"),))] == 0

    wikibot.file("Veteran", "Account request: Veteran", request_wikitext())
    wikibot.file("Newcomer", "Account request: Newcomer", request_wikitext())
    started = time.time()
    wikibot.cycle()

    after = scrape(bridge)
    assert after[("ats_replies_posted_total", ())] == 2
    assert after[("ats_requests", (("state", "awaiting-identity"),))] >= 1
    assert sum(v for (name, _), v in after.items() if name == "ats_requests") == 2
    cycle = after[("ats_last_bot_cycle_timestamp_seconds", ())]
    assert started - 2 <= cycle <= time.time() + 1
    assert after[("ats_logins_total", ())] == 0

    status = requests.get(bridge.url + "/status.json", timeout=15).json()["health"]
    assert status["replies_posted"] == 2
    assert status["jobs_failed"] == 0
    assert status["last_bot_cycle_age_seconds"] is not None
    assert 0 <= status["last_bot_cycle_age_seconds"] < 60
    assert sum(status["requests_by_state"].values()) == 2
