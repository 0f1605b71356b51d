"""The import pipeline: conditional fetch → parse off the event loop → idempotent upserts.

Articles are written only through the articles feature's public `upsert_many` (set-based),
keyed by (feed URL, item id or link), so importing a feed again creates nothing new.
"""
from __future__ import annotations

import asyncio
import hashlib
import random
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Literal

import httpx
import structlog
from psycopg import AsyncConnection
from psycopg.errors import DeadlockDetected, SerializationFailure
from psycopg_pool import AsyncConnectionPool

from core.errors import DatabaseUnavailable
from core.metrics import record_import
from features.articles import SourceArticle, upsert_many

from . import queries
from .discover import feed_link, looks_like_html
from .errors import (
    FeedAlreadyRegistered,
    ImportRefused,
    NotAFeed,
    UnsafeUrl,
    UpstreamFailed,
    UpstreamTimeout,
)
from .fetch import Fetched, Fetcher, Validators
from .parse import Item, parse_feed
from .schemas import FeedOut, ImportOut, OpmlResult

log = structlog.get_logger(__name__)

Trigger = Literal["request", "schedule"]
# Every way an import ends, as logged in `import_finished` (outcome=...): for metrics.
OUTCOMES = ("imported", "not_modified", "refused", "upstream_error", "timeout")
CHUNK = 500  # items per transaction and per set-based upsert statement
CHUNK_ATTEMPTS = 5
MAX_ERRORS = 20
REGISTER_CONCURRENCY = 8  # OPML feeds checked (DNS) and registered at once


def normalize_url(url: str) -> str:
    """The URL as stored and keyed (scheme and host lower-cased, default port dropped)."""
    try:
        return str(httpx.URL(url.strip()))
    except (httpx.InvalidURL, TypeError) as exc:
        raise UnsafeUrl(f"not a valid URL: {exc}") from None


async def register_all(
    pool: AsyncConnectionPool, fetcher: Fetcher, urls: list[str], interval_minutes: int
) -> list[OpmlResult]:
    """Register each URL (idempotent), 8 at a time (each check resolves a host): in order,
    registered, already registered, or refused and why."""
    gate = asyncio.Semaphore(REGISTER_CONCURRENCY)

    async def one(given: str) -> OpmlResult:
        async with gate:
            return await _register(pool, fetcher, given, interval_minutes)

    return list(await asyncio.gather(*(one(url) for url in urls)))


async def _register(
    pool: AsyncConnectionPool, fetcher: Fetcher, given: str, interval_minutes: int
) -> OpmlResult:
    try:
        url = normalize_url(given)
        await fetcher.check_url(url)
    except (ImportRefused, UpstreamTimeout) as exc:
        return OpmlResult(url=given, status="refused", reason=str(exc))
    async with queries.connection(pool) as db:
        feed = await queries.insert_feed(db, url, interval_minutes)
        if feed is not None:
            return OpmlResult(url=url, status="registered", id=feed.id)
        known = await queries.get_feed_by_url(db, url)
    return OpmlResult(url=url, status="already_registered", id=known.id if known else None)


async def register_feed(
    pool: AsyncConnectionPool, fetcher: Fetcher, given: str, interval_minutes: int
) -> FeedOut:
    """Register a feed, or the feed a website's page links to (discovery, as for imports).

    The address is fetched once, through the same guard, robots rules and caps as an import.
    An HTML page is replaced by the feed its `<link rel="alternate">` names (422 when it names
    none); a feed, or an address that does not answer now (502/504 on an import), is
    registered as given, and its scheduled imports report what happens."""
    url, page_url = normalize_url(given), None
    try:
        fetched: Fetched | None = await fetcher.fetch_feed(url, Validators())
    except (UpstreamFailed, UpstreamTimeout):
        fetched = None
    if fetched is not None and looks_like_html(
        fetched.body, fetched.headers.get("content-type", "")
    ):
        page_url, url = url, await _discovered(fetched, url)
        await fetcher.check_url(url)
    async with queries.connection(pool) as db:
        feed = await queries.insert_feed(db, url, interval_minutes)
    if feed is None:
        raise FeedAlreadyRegistered
    return feed.model_copy(update={"discovered_from": page_url})


def source_key(feed_url: str, item_key: str) -> str:
    data = f"{feed_url}\n{item_key}".encode(errors="surrogatepass")  # never raises
    return "feed:" + hashlib.sha256(data).hexdigest()


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
    page_url = None
    try:
        items = await _parse(fetched, max_items)
    except NotAFeed:
        if not looks_like_html(fetched.body, fetched.headers.get("content-type", "")):
            raise
        page_url, url = url, await _discovered(fetched, url)
        async with queries.connection(pool) as db:
            validators = await queries.validators_for(db, url, max_items)
        fetched = await fetcher.fetch_feed(url, validators)  # the same guard, robots and caps
        if fetched.status == 304:
            return ImportOut(url=url, status="not_modified", discovered_from=page_url)
        items = await _parse(fetched, max_items)
    async with queries.connection(pool) as db:
        result = await store(db, url, items)
        if not result.errors:  # a partial import must not make the next fetch a 304
            await queries.save_validators(db, url, fetched.validators, max_items)
    return result.model_copy(update={"discovered_from": page_url})


async def _parse(fetched: Fetched, max_items: int | None) -> list[Item]:
    content_type = fetched.headers.get("content-type", "")
    return await asyncio.to_thread(parse_feed, fetched.body, content_type, max_items)


async def _discovered(fetched: Fetched, page_url: str) -> str:
    """The feed URL an HTML page links to (`<link rel="alternate">`), or NotAFeed."""
    found = await asyncio.to_thread(feed_link, fetched.body, str(fetched.url))
    if found is None:
        raise NotAFeed(f"{page_url} is an HTML page, not an RSS, Atom or JSON feed, and has "
                       "no <link rel=\"alternate\"> to one")
    return normalize_url(found)


async def store(db: AsyncConnection, feed_url: str, items: list[Item]) -> ImportOut:
    """Upsert every importable item; the rest are counted as skipped, with the reason."""
    problems: list[str] = []
    seen: set[str] = set()
    importable = []
    for item in items:
        problem = item.problem or _duplicate(item, seen)
        if problem is None:
            importable.append(item)
        else:
            problems.append(problem)
    counts: Counter[str] = Counter()
    for chunk in _chunks(importable, CHUNK):
        chunk_counts, chunk_problems = await _store_chunk(db, feed_url, chunk)
        counts.update(chunk_counts)
        problems.extend(chunk_problems)
    errors = problems[:MAX_ERRORS]
    if len(problems) > MAX_ERRORS:
        errors.append(f"… and {len(problems) - MAX_ERRORS} more")
    return ImportOut(
        url=feed_url, status="imported", fetched=len(items), created=counts["created"],
        updated=counts["updated"], unchanged=counts["unchanged"], skipped=len(problems),
        errors=errors,
    )


async def _store_chunk(
    db: AsyncConnection, feed_url: str, chunk: list[Item]
) -> tuple[Counter[str], list[str]]:
    """One transaction (one commit) and one set-based upsert for a chunk of items.

    Concurrent writers can deadlock across a chunk's statements (each waiting for a slug or
    row the other has not committed yet); PostgreSQL then aborts one transaction, and that
    chunk simply runs again: every upsert in it is idempotent.
    """
    for attempt in range(1, CHUNK_ATTEMPTS + 1):
        counts: Counter[str] = Counter()
        problems: list[str] = []
        try:
            async with db.transaction():
                results = await upsert_many(db, [_article(feed_url, item) for item in chunk])
        except (DeadlockDetected, SerializationFailure):
            log.info("import_chunk_retried", attempt=attempt)
            await asyncio.sleep(random.uniform(0.01, 0.1) * attempt)
            continue
        for item, result in zip(chunk, results, strict=True):
            if isinstance(result, ValueError):
                problems.append(f"item {item.key}: {result}")
            else:
                counts[result[1]] += 1
        return counts, problems
    raise DatabaseUnavailable(1)


def _article(feed_url: str, item: Item) -> SourceArticle:
    assert item.key is not None
    return SourceArticle(
        source_key=source_key(feed_url, item.key), title=item.title, body=item.body,
        slug_hint=item.title, source_url=item.link, published_at=item.published,
    )


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
