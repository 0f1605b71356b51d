"""PostgreSQL connection pool and the `Db` dependency that lends a connection to a request."""
from __future__ import annotations

import math
from collections.abc import AsyncIterator
from typing import Annotated

import psycopg
import structlog
from fastapi import Depends, Request
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from .errors import DatabaseUnavailable
from .settings import Settings

log = structlog.get_logger(__name__)


def connect_kwargs() -> dict[str, object]:
    # autocommit: a single statement needs no BEGIN/COMMIT round trips; writes that need
    # several statements open `async with conn.transaction()` explicitly.
    return {"autocommit": True, "connect_timeout": 3, "application_name": "articles-service"}


def make_pool(url: str, settings: Settings) -> AsyncConnectionPool:
    return AsyncConnectionPool(
        url,
        min_size=settings.db_pool_min_size,
        max_size=settings.db_pool_max_size,
        timeout=settings.db_pool_timeout,
        kwargs=connect_kwargs(),
        open=False,
        name="articles",
        # A failed slot gives up fast and the pool regrows on demand, so the first request after
        # PostgreSQL returns gets a fresh connection instead of waiting out a long backoff.
        reconnect_timeout=2.0,
    )


def get_pool(request: Request) -> AsyncConnectionPool:
    pool: AsyncConnectionPool = request.app.state.pool
    return pool


async def get_db(request: Request) -> AsyncIterator[AsyncConnection]:
    """Lend a pooled connection; pool exhausted or PostgreSQL down becomes 503 + Retry-After."""
    pool: AsyncConnectionPool = request.app.state.pool
    retry_after = max(1, math.ceil(pool.timeout))
    try:
        async with pool.connection() as conn:
            yield conn
    except PoolTimeout:
        log.warning("pool_exhausted", **{k: v for k, v in pool.get_stats().items() if k in _STATS})
        raise DatabaseUnavailable(retry_after) from None
    except psycopg.OperationalError as exc:
        log.warning("database_unavailable", error=type(exc).__name__)
        raise DatabaseUnavailable(retry_after) from None


_STATS = ("pool_size", "pool_available", "requests_waiting")

Db = Annotated[AsyncConnection, Depends(get_db)]
