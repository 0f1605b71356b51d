"""Helpers for articles tests: make an article over HTTP, talk to the database directly."""
from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import psycopg
import pytest

from conftest import AUTH

MakeArticle = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
def make_article(client: httpx.AsyncClient, unique: str) -> MakeArticle:
    """POST an article with unique defaults; returns the created body (with its etag)."""
    counter = iter(range(1, 10_000))

    async def make(**fields: Any) -> dict[str, Any]:
        n = next(counter)
        payload = {"title": f"Title {unique} {n}", "slug": f"s-{unique}-{n}",
                   "body": f"Body {unique} {n}"}
        payload.update(fields)
        response = await client.post("/articles", json=payload, headers=AUTH)
        assert response.status_code == 201, response.text
        return {**response.json(), "etag": response.headers["etag"]}

    return make


@pytest.fixture
async def db(pg_url: str) -> AsyncIterator[psycopg.AsyncConnection]:
    """A direct autocommit connection to the session database."""
    async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as conn:
        yield conn


async def wait_for(check: Callable[[], Awaitable[Any]], timeout: float = 10.0) -> Any:
    """Poll an async check until it is truthy or the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


async def lock_waiters(db: psycopg.AsyncConnection, statement: str) -> int:
    """How many other backends wait on a lock while running `statement` (a query prefix)."""
    cur = await db.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
        " AND datname = current_database() AND pid <> pg_backend_pid()"
        " AND ltrim(query, E' \t\r\n') LIKE %s",
        (statement + "%",),
    )
    row = await cur.fetchone()
    return int(row[0]) if row else 0
