"""The chapter's testing pattern on health: the pool dependency swapped for a fake."""
from __future__ import annotations

from contextlib import asynccontextmanager

from core.db import get_pool
from tests.fakes import FakeConnection


class FakePool:
    """Answers like a pool whose database lacks `pending` migrations."""

    def __init__(self, pending: int) -> None:
        self.connection_ = FakeConnection([(1,)], [(pending,)])

    @asynccontextmanager
    async def connection(self, timeout: float | None = None):
        yield self.connection_


async def test_ready_reads_the_fake_pool(client):
    fake = FakePool(pending=3)

    async def fake_pool() -> FakePool:
        return fake

    client.app.dependency_overrides[get_pool] = fake_pool
    response = await client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["checks"]["database"]["reason"] == "3 migration(s) not applied"
    assert len(fake.connection_.executed) == 2
    client.app.dependency_overrides.clear()
    assert (await client.get("/health/ready")).status_code == 200
