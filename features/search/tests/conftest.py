"""Search test fixtures: a client whose search limit stays out of the way, and articles
written straight into PostgreSQL (the articles API is another feature's)."""
from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import psycopg
import pytest

Add = Callable[..., Awaitable[int]]
_LETTERS = str.maketrans("0123456789", "ghijklmnop")


@pytest.fixture
async def api(make_client) -> httpx.AsyncClient:
    return await make_client(search_rate_limit="10000/minute")


@pytest.fixture
async def db(pg_url: str) -> AsyncIterator[psycopg.AsyncConnection]:
    async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def word(unique: str) -> str:
    """A unique, all-letter word (so the English stemmer leaves it a word like any other)."""
    return "zq" + unique.translate(_LETTERS)


@pytest.fixture
def add(db: psycopg.AsyncConnection, unique: str) -> Add:
    count = 0

    async def add_article(title: str, body: str) -> int:
        nonlocal count
        count += 1
        cur = await db.execute(
            "INSERT INTO articles (title, slug, body) VALUES (%s, %s, %s) RETURNING id",
            (title, f"search-{unique}-{count}", body),
        )
        row = await cur.fetchone()
        assert row is not None
        return int(row[0])

    return add_article


async def ids(api: httpx.AsyncClient, q: str, **params: object) -> list[int]:
    response = await api.get("/search", params={"q": q, **params})
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]
