"""The import pipeline: conditional fetch → parse off the event loop → idempotent upserts.

Articles are written only through the articles feature's public `upsert_by_source_key`,
keyed by (feed URL, item id or link), so importing a feed again creates nothing new.
"""
from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Literal

import httpx
import structlog
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from core.metrics import record_import
from features.articles import upsert_by_source_key

from . import queries
from .errors import ImportRefused, UnsafeUrl, UpstreamFailed, UpstreamTimeout
from .fetch import Fetcher
from .parse import Item, parse_feed
from .schemas import ImportOut

log = structlog.get_logger(__name__)

Trigger = Literal["request", "schedule"]
# Every way an import ends, as logged in `import_finished` (outcome=...): for metrics.
OUTCOMES = ("imported", "not_modified", "refused", "upstream_error", "timeout")
CHUNK = 200  # upserts per transaction: one commit per chunk, not per item
MAX_ERRORS = 20


def normalize_url(url: str) -> str:
    """The URL as stored and keyed (scheme and host lower-cased, default port dropped)."""
    try:
        return str(httpx.URL(url.strip()))
    except (httpx.InvalidURL, TypeError) as exc:
        raise UnsafeUrl(f"not a valid URL: {exc}") from None


def source_key(feed_url: str, item_key: str) -> str:
    return "feed:" + hashlib.sha256(f"{feed_url}\n{item_key}".encode()).hexdigest()


async def import_feed(
    pool: AsyncConnectionPool, fetcher: Fetcher, url: str, max_items: int | None,
    trigger: Trigger,
) -> ImportOut:
    """Fetch, parse and store one feed; raises ImportRefused, UpstreamFailed or UpstreamTimeout."""
    url = normalize_url(url)
    started = time.perf_counter()
    where = _loggable(url)
    try:
        result = await _run(pool, fetcher, url, max_items)
    except (ImportRefused, UpstreamFailed, UpstreamTimeout) as exc:
        record_import(exc.outcome)
        log.info("import_finished", url=where, trigger=trigger, outcome=exc.outcome,
                 reason=str(exc), duration_ms=_ms(started))
        raise
    record_import(result.status)
    log.info("import_finished", url=where, trigger=trigger, outcome=result.status,
             fetched=result.fetched, created=result.created, updated=result.updated,
             unchanged=result.unchanged, skipped=result.skipped, duration_ms=_ms(started))
    return result


async def _run(
    pool: AsyncConnectionPool, fetcher: Fetcher, url: str, max_items: int | None
) -> ImportOut:
    async with queries.connection(pool) as db:
        validators = await queries.validators_for(db, url, max_items)
    fetched = await fetcher.fetch_feed(url, validators)
    if fetched.status == 304:
        return ImportOut(url=url, status="not_modified")
    content_type = fetched.headers.get("content-type", "")
    items = await asyncio.to_thread(parse_feed, fetched.body, content_type, max_items)
    async with queries.connection(pool) as db:
        result = await store(db, url, items)
        if not result.errors:  # a partial import must not make the next fetch a 304
            await queries.save_validators(db, url, fetched.validators, max_items)
    return result


async def store(db: AsyncConnection, feed_url: str, items: list[Item]) -> ImportOut:
    """Upsert every importable item; the rest are counted as skipped, with the reason."""
    result = ImportOut(url=feed_url, status="imported", fetched=len(items))
    problems: list[str] = []
    seen: set[str] = set()
    for chunk in _chunks(items, CHUNK):
        async with db.transaction():
            for item in chunk:
                problem = item.problem or _duplicate(item, seen)
                if problem is None:
                    problem = await _upsert(db, feed_url, item, result)
                if problem is not None:
                    result.skipped += 1
                    problems.append(problem)
    result.errors = problems[:MAX_ERRORS]
    if len(problems) > MAX_ERRORS:
        result.errors.append(f"… and {len(problems) - MAX_ERRORS} more")
    return result


async def _upsert(db: AsyncConnection, feed_url: str, item: Item, result: ImportOut) -> str | None:
    assert item.key is not None
    try:
        _, outcome = await upsert_by_source_key(
            db, source_key=source_key(feed_url, item.key), title=item.title, body=item.body,
            slug_hint=item.title,
        )
    except ValueError as exc:
        return f"item {item.key}: {exc}"
    setattr(result, outcome, getattr(result, outcome) + 1)
    return None


def _duplicate(item: Item, seen: set[str]) -> str | None:
    assert item.key is not None
    if item.key in seen:
        return f"item {item.key}: appears twice in the feed"
    seen.add(item.key)
    return None


def _chunks(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _loggable(url: str) -> str:
    """The URL without its query string, which may carry a private feed's token."""
    return str(httpx.URL(url).copy_with(query=None, fragment=None))


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
