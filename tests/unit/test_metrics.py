"""`/metrics` through Flask's test client: every figure comes from the store, so what
another process wrote shows at the next scrape."""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client.parser import text_string_to_metric_families

from bridge import create_app
from membership.health import record_cycle
from membership.store import Store


def scrape(client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = client.get("/metrics").get_data(as_text=True)
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_metrics_read_jobs_logins_and_the_cycle_from_the_store(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("ATS_SESSION_KEY", "test-session-key-0123456789abcdef")
    monkeypatch.setenv("ATS_OAUTH_SECRET", "test-oauth-secret")
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    path = tmp_path / "ats.sqlite"
    app = create_app(
        {
            "url": "http://127.0.0.1:5000",
            "wiki_api": "http://127.0.0.1:9/api.php",
            "store_path": str(path),
            "consumer_key": "test-consumer",
            "testing": True,
        }
    )
    client = app.test_client()
    assert scrape(client)[("ats_jobs_failed", ())] == 0

    store = Store(path)  # another "process": its own connection
    record = store.add_request(
        page="P",
        key="k",
        heading="Account request: A",
        requester="A",
        subject="A",
        type="account",
        fields={},
        content_hash="h",
        intro_revid=1,
        intro_timestamp="2025-01-01T00:00:00Z",
        state="approved",
        detail={},
    )
    store.db.execute(
        "INSERT INTO jobs (request_id, kind, payload, state, attempts, created_at) "
        "VALUES (?, 'person', '{}', 'failed', 3, '2025-01-01T00:00:00+00:00')",
        [record.id],
    )
    store.audit("A", "bridge-login", oauth_version=2)
    store.audit("B", "bridge-login", oauth_version=1)
    record_cycle(store, datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))

    seen = scrape(client)
    assert seen[("ats_jobs_failed", ())] == 1
    assert seen[("ats_jobs", (("state", "failed"),))] == 1
    assert seen[("ats_logins_total", ())] == 2
    assert seen[("ats_requests", (("state", "approved"),))] == 1
    assert seen[("ats_last_bot_cycle_timestamp_seconds", ())] == 1767323045.0
    health = client.get("/status.json").get_json()["health"]
    assert health["jobs_failed"] == 1 and health["logins"] == 2
    assert health["last_bot_cycle"] == "2026-01-02T03:04:05+00:00"
