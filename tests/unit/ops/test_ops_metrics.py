"""GET /metrics answers even when PostgreSQL does not, and labels requests by route."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from payments.config import Settings


def scrape(client) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:  # type: ignore[no-untyped-def]
    body = client.get("/metrics").get_data(as_text=True)
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
    }


def test_metrics_answer_with_the_database_down_and_count_routes() -> None:
    from web import create_app

    settings = Settings(database_url="postgresql+psycopg://root@127.0.0.1:9/none")
    client = create_app({"TESTING": True, "SETTINGS": settings}).test_client()
    client.get("/healthz")
    client.get("/healthz")
    client.post("/healthz")
    samples = scrape(client)
    assert samples[("payments_database_up", frozenset())] == 0
    assert not any(name == "outbox_unpublished_events" for name, _ in samples)
    ok = frozenset({("method", "GET"), ("route", "/healthz"), ("status", "200")})
    assert samples[("http_requests_total", ok)] == 2
    refused = frozenset({("method", "POST"), ("route", "<unmatched>"), ("status", "405")})
    assert samples[("http_requests_total", refused)] == 1
    duration = frozenset({("method", "GET"), ("route", "/healthz"), ("le", "+Inf")})
    assert samples[("http_request_duration_seconds_bucket", duration)] == 2
