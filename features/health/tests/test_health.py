"""Liveness and readiness probes."""
from __future__ import annotations

from tests.servers import create_database, drop_database


async def test_live_is_ok(client):
    response = await client.get("/health/live")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


async def test_ready_reports_database_latency(client):
    response = await client.get("/health/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["status"] == "ok"
    assert isinstance(body["checks"]["database"]["latency_ms"], float)
    assert set(body["checks"]["database"]) == {"status", "latency_ms"}  # the contract's shape


async def test_ready_is_503_when_migrations_are_not_applied(make_client, pg_admin_url):
    url = create_database(pg_admin_url)
    try:
        client = await make_client(database_url=url)
        response = await client.get("/health/ready")
        assert response.status_code == 503
        check = response.json()["checks"]["database"]
        assert response.json()["status"] == "unavailable"
        assert check["status"] == "unavailable" and "migration" in check["reason"]
    finally:
        await client.aclose()
        await client.app.state.pool.close()
        drop_database(pg_admin_url, url)


async def test_metrics_answers_prometheus_text(client):
    await client.get("/health/live")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert 'http_requests_total{method="GET",route="/health/live",status="200"}' in response.text
    assert "db_pool_connections " in response.text


async def test_probes_and_metrics_are_never_rate_limited(make_client):
    client = await make_client(rate_limit_default="2/minute")
    for path in ("/health/live", "/health/ready", "/metrics"):
        statuses = {(await client.get(path)).status_code for _ in range(5)}
        assert statuses == {200}, (path, statuses)
    limited = {(await client.get("/articles")).status_code for _ in range(5)}
    assert 429 in limited, "control: the default limit is in force on other routes"
