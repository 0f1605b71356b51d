"""The chapter's testing pattern on external: the DB dependency swapped for a fake."""
from __future__ import annotations

from datetime import UTC, datetime

from core.db import get_connection
from tests.fakes import FakeConnection, pool_requests

WHEN = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


async def test_a_feed_is_read_from_the_fake_connection(client):
    row = {"id": 77, "url": "https://feeds.example.org/rss", "interval_minutes": 30,
           "next_due_at": WHEN, "failures": 0, "created_at": WHEN, "last_import_at": None}
    fake = FakeConnection([row])
    client.app.dependency_overrides[get_connection] = fake.dependency
    asked = pool_requests(client.app)

    response = await client.get("/external/feeds/77")

    assert response.status_code == 200
    assert response.json()["url"] == "https://feeds.example.org/rss"
    assert pool_requests(client.app) == asked  # nothing reached PostgreSQL
    client.app.dependency_overrides.clear()
    assert (await client.get("/external/feeds/77")).status_code == 404
