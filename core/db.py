"""PostgreSQL connection pool, the connection dependencies, and the 503 for a database that
cannot answer.

A route whose work is its SQL takes `Conn`, the FastAPI chapter's `yield` dependency:

    async def get_article(article_id: int, conn: Conn) -> ArticleOut:
        return await queries.get_by_id(conn, article_id)

It borrows a pooled connection before the endpoint runs and, being `scope="function"`, returns
it when the endpoint returns, before the response is serialised and sent: a slow client never
holds a connection. Tests swap it with `app.dependency_overrides[get_connection] = fake`.

A route that does slow work besides SQL (a feed import fetching over the network) takes `Pool`
instead and borrows a connection only around each statement (`async with pool.connection()`),
so it never holds one across the fetch. An exhausted pool (PoolTimeout) or PostgreSQL down,
stalled or past a timeout (OperationalError: core/pool.py bounds every borrowing) anywhere in a
request becomes 503 + Retry-After in one handler.
"""
from __future__ import annotations

import math
from collections.abc import AsyncIterator
from typing import Annotated

import psycopg
import structlog
from fastapi import Depends, FastAPI, Request
from fastapi.responses import Response
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from .errors import DatabaseUnavailable, error_response
from .pool import BoundedPool, connect_kwargs
from .settings import Settings

log = structlog.get_logger(__name__)


def make_pool(url: str, settings: Settings) -> BoundedPool:
    return BoundedPool(
        url,
        client_timeout=settings.db_client_timeout,
        min_size=settings.db_pool_min_size,
        max_size=settings.db_pool_max_size,
        timeout=settings.db_pool_timeout,
        kwargs=connect_kwargs(url, settings),
        open=False,
        name="articles",
        # A failed slot gives up fast and the pool regrows on demand, so the first request after
        # PostgreSQL returns gets a fresh connection instead of waiting out a long backoff.
        reconnect_timeout=2.0,
    )


async def get_pool(request: Request) -> AsyncConnectionPool:
    pool: AsyncConnectionPool = request.app.state.pool
    return pool


async def get_connection(request: Request) -> AsyncIterator[AsyncConnection]:
    pool: AsyncConnectionPool = request.app.state.pool
    # The pool's own pair rather than `pool.connection()`: that also commits on the way out,
    # which on an autocommit connection is a lock and a no-op (~4 us of a GET by id). A
    # connection handed back inside a transaction (an error mid-way) is rolled back by putconn.
    conn = await pool.getconn()
    try:
        yield conn
    finally:
        await pool.putconn(conn)


Pool = Annotated[AsyncConnectionPool, Depends(get_pool)]
"""The pool, for routes that must not hold a connection across slow non-SQL work."""

Conn = Annotated[AsyncConnection, Depends(get_connection, scope="function")]
"""A pooled connection for the endpoint's run; back in the pool before the response is sent."""

_STATS = ("pool_size", "pool_available", "requests_waiting")


def _retry_after(request: Request) -> int:
    pool: AsyncConnectionPool | None = getattr(request.app.state, "pool", None)
    return max(1, math.ceil(pool.timeout)) if pool is not None else 1


async def _pool_exhausted(request: Request, exc: Exception) -> Response:
    pool: AsyncConnectionPool | None = getattr(request.app.state, "pool", None)
    stats = pool.get_stats() if pool is not None else {}
    log.warning("pool_exhausted", **{k: v for k, v in stats.items() if k in _STATS})
    return _unavailable(request)


async def _database_down(request: Request, exc: Exception) -> Response:
    log.warning("database_unavailable", error=type(exc).__name__)
    return _unavailable(request)


def _unavailable(request: Request) -> Response:
    error = DatabaseUnavailable(_retry_after(request))
    return error_response(request.scope, error.status_code, error.detail, error.headers)


def install_database_errors(app: FastAPI) -> None:
    """PoolTimeout and OperationalError (connection lost, server down, statement cancelled by
    a shutdown) are 503 + Retry-After wherever in a request they are raised."""
    app.add_exception_handler(PoolTimeout, _pool_exhausted)
    app.add_exception_handler(psycopg.OperationalError, _database_down)
