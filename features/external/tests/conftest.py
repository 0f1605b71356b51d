"""Fixtures for the external tests: a loopback feed server and apps that may reach only it."""
from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from xml.sax.saxutils import escape

import httpx
import orjson
import psycopg
import pytest

from features.external.service import normalize_url, source_key

from .feedserver import FeedServer, LoopbackOnly


@pytest.fixture
async def feeds(pg_url: str) -> AsyncIterator[FeedServer]:
    """The loopback feed server; feeds registered on it are dropped after the test."""
    server = FeedServer()
    yield server
    server.close()
    async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as db:
        await db.execute("DELETE FROM external_feeds WHERE url LIKE %s", (server.url("/") + "%",))


async def eventually(predicate: Callable[[], Awaitable[Any]], timeout: float = 10.0) -> Any:
    """Poll `predicate` until it returns something truthy, or fail at the deadline."""
    deadline = time.monotonic() + timeout
    while not (value := await predicate()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"not reached within {timeout} s")
        await asyncio.sleep(0.02)
    return value


def loopback_only(app: Any, tick: float | None = None) -> None:
    """No background scheduler unless `tick`; connections only to 127.0.0.1."""
    app.state.external_tick_seconds = tick
    app.state.external_transport = LoopbackOnly()


@pytest.fixture
async def importer(make_client, feeds: FeedServer) -> httpx.AsyncClient:
    """An app allowed to reach private addresses (for the loopback server), scheduler off."""
    return await make_client(external_allow_private=True, app_hook=loopback_only)


async def article(client: httpx.AsyncClient, feed_url: str, item_key: str) -> dict | None:
    """The article an item became, straight from the table (or None)."""
    key = source_key(normalize_url(feed_url), item_key)
    async with client.app.state.pool.connection() as db:  # type: ignore[attr-defined]
        cur = await db.execute(
            "SELECT id, title, slug, body FROM articles WHERE source_key = %s", (key,)
        )
        row = await cur.fetchone()
    return None if row is None else dict(zip(("id", "title", "slug", "body"), row, strict=True))


def rss(items: list[dict[str, str]], title: str = "A feed") -> bytes:
    entries = "".join(
        "<item>"
        + (f"<guid isPermaLink='false'>{escape(i['id'])}</guid>" if "id" in i else "")
        + (f"<link>{escape(i['link'])}</link>" if "link" in i else "")
        + f"<title>{escape(i.get('title', ''))}</title>"
        + f"<description>{escape(i.get('body', ''))}</description>"
        + "</item>"
        for i in items
    )
    return (
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
        f"<title>{escape(title)}</title><link>http://example.invalid/</link>"
        f"<description>d</description>{entries}</channel></rss>"
    ).encode()


def atom(items: list[dict[str, str]]) -> bytes:
    entries = "".join(
        f"<entry><id>{escape(i['id'])}</id><title type='html'>{escape(i['title'])}</title>"
        "<updated>2026-01-01T00:00:00Z</updated>"
        f"<content type='html'>{escape(i['body'])}</content></entry>"
        for i in items
    )
    return (
        "<?xml version='1.0' encoding='utf-8'?><feed xmlns='http://www.w3.org/2005/Atom'>"
        "<title>Atom feed</title><id>urn:feed</id><updated>2026-01-01T00:00:00Z</updated>"
        f"{entries}</feed>"
    ).encode()


def json_feed(items: list[dict[str, Any]]) -> bytes:
    return orjson.dumps(
        {"version": "https://jsonfeed.org/version/1.1", "title": "JSON feed", "items": items}
    )


RSS_TYPE = {"Content-Type": "application/rss+xml; charset=utf-8"}
