"""The pool under faults: PostgreSQL down gives 503 fast and heals; exhaustion gives 503."""
from __future__ import annotations

import asyncio
import time
import uuid

from fastapi import FastAPI

from core.db import Conn
from core.migrations import apply_migrations
from tests.probes import add_probe_routes


async def poll_status(client, path: str, want: int, timeout: float) -> float:
    """Request `path` until it answers `want`; returns seconds taken."""
    start = time.monotonic()
    while True:
        response = await client.get(path)
        if response.status_code == want:
            return time.monotonic() - start
        assert time.monotonic() - start < timeout, f"{path} stuck at {response.status_code}"
        await asyncio.sleep(0.1)


async def test_postgres_down_is_503_with_retry_after_then_recovers(make_client, own_postgres):
    apply_migrations(own_postgres.url)
    client = await make_client(
        app_hook=add_probe_routes, database_url=own_postgres.url, db_pool_timeout=1.0
    )
    assert (await client.get("/_probe/db")).status_code == 200

    await asyncio.to_thread(own_postgres.stop, "fast")
    for _ in range(3):
        start = time.monotonic()
        down = await client.get("/_probe/db")
        assert down.status_code == 503, down.text
        assert down.headers["retry-after"] == "1"
        assert set(down.json()) == {"detail", "request_id"}
        assert time.monotonic() - start < 3.0  # bounded by DB_POOL_TIMEOUT, never a hang
    ready = await client.get("/health/ready")
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"]["status"] == "unavailable"

    await asyncio.to_thread(own_postgres.start)
    await poll_status(client, "/_probe/db", 200, timeout=15)
    assert (await client.get("/health/ready")).status_code == 200


async def test_pool_exhausted_is_503_within_timeout(make_client):
    client = await make_client(
        app_hook=add_probe_routes, db_pool_min_size=1, db_pool_max_size=1, db_pool_timeout=0.5
    )
    slow = asyncio.create_task(client.get("/_probe/slow-db", params={"seconds": 2}))
    await asyncio.sleep(0.3)  # let the slow request take the only connection
    start = time.monotonic()
    waiting = await client.get("/_probe/db")
    elapsed = time.monotonic() - start
    assert waiting.status_code == 503
    assert waiting.headers["retry-after"] == "1"
    assert 0.4 < elapsed < 1.5
    assert (await slow).status_code == 200
    assert (await client.get("/_probe/db")).status_code == 200


async def test_a_transaction_left_open_by_a_route_is_rolled_back_not_committed(make_client):
    """`Conn` hands the connection back with the pool's putconn: what a route left open is
    rolled back (a forgotten COMMIT never commits half a change), and the next borrower gets
    a connection outside any transaction."""
    table = f"leftover_{uuid.uuid4().hex[:12]}"

    def hook(app: FastAPI) -> None:
        @app.get("/_probe/leave-open")
        async def leave_open(conn: Conn) -> dict[str, str]:
            await conn.execute("BEGIN")
            await conn.execute(f"CREATE TABLE {table} ()")
            return {"status": conn.info.transaction_status.name}

        @app.get("/_probe/state")
        async def state(conn: Conn) -> dict[str, object]:
            cur = await conn.execute("SELECT to_regclass(%s) IS NOT NULL", [table])
            row = await cur.fetchone()
            return {"exists": row[0] if row else None, "status": conn.info.transaction_status.name}

    client = await make_client(app_hook=hook, db_pool_min_size=1, db_pool_max_size=1)
    assert (await client.get("/_probe/leave-open")).json() == {"status": "INTRANS"}
    assert (await client.get("/_probe/state")).json() == {
        "exists": False, "status": "IDLE",
    }
