"""The readiness checks: PostgreSQL answers in time and every migration is applied."""
from __future__ import annotations

import asyncio
import time

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from core.migrations import pending_count

from .schemas import Check

READY_TIMEOUT = 2.0


async def _probe(pool: AsyncConnectionPool, migration_ids: list[str]) -> Check:
    start = time.perf_counter()
    async with pool.connection(timeout=READY_TIMEOUT) as conn:
        await conn.execute("SELECT 1")
        latency = round((time.perf_counter() - start) * 1000, 2)
        pending = await pending_count(conn, migration_ids)
    if pending:
        return Check(status="unavailable", reason=f"{pending} migration(s) not applied")
    return Check(status="ok", latency_ms=latency)


async def database_check(pool: AsyncConnectionPool, migration_ids: list[str]) -> Check:
    """ok within 2 seconds, else unavailable with the reason."""
    try:
        return await asyncio.wait_for(_probe(pool, migration_ids), READY_TIMEOUT)
    except (TimeoutError, PoolTimeout):
        return Check(status="unavailable", reason="no answer within 2 s")
    except psycopg.Error as exc:
        return Check(status="unavailable", reason=type(exc).__name__)
