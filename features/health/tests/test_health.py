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
