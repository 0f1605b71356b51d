"""SQL for external imports: conditional-GET state per URL and the registered feeds."""
from __future__ import annotations

import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from core.errors import DatabaseUnavailable

from .fetch import Validators
from .schemas import FeedOut, ImportOut, LastImport


@asynccontextmanager
async def connection(pool: AsyncConnectionPool) -> AsyncIterator[AsyncConnection]:
    """A pooled connection borrowed only for the SQL at hand (never across a slow fetch);
    an exhausted pool or PostgreSQL down is 503, as with core's `Conn`."""
    try:
        async with pool.connection() as conn:
            yield conn
    except (PoolTimeout, psycopg.OperationalError):
        raise DatabaseUnavailable(max(1, math.ceil(pool.timeout))) from None


GET_STATE = """
    SELECT etag, last_modified, max_items FROM external_fetch_state WHERE url = %(url)s
"""

SAVE_STATE = """
    INSERT INTO external_fetch_state (url, etag, last_modified, max_items)
    VALUES (%(url)s, %(etag)s, %(last_modified)s, %(max_items)s)
    ON CONFLICT (url) DO UPDATE
    SET etag = excluded.etag, last_modified = excluded.last_modified,
        max_items = excluded.max_items, imported_at = now()
"""


async def validators_for(db: AsyncConnection, url: str, max_items: int | None) -> Validators:
    """The last import's validators, when that import covered at least the items wanted now."""
    cur = await db.execute(GET_STATE, {"url": url})
    row = await cur.fetchone()
    if row is None:
        return Validators()
    etag, last_modified, covered = row
    if covered is not None and (max_items is None or max_items > covered):
        return Validators()
    return Validators(etag, last_modified)


async def save_validators(
    db: AsyncConnection, url: str, validators: Validators, max_items: int | None
) -> None:
    await db.execute(
        SAVE_STATE,
        {"url": url, "etag": validators.etag, "last_modified": validators.last_modified,
         "max_items": max_items},
    )


FEED_COLUMNS = """
    id, url, interval_minutes, next_due_at, failures, created_at, last_import_at, last_status,
    last_error, last_fetched, last_created, last_updated, last_unchanged, last_skipped
"""

INSERT_FEED = f"""
    INSERT INTO external_feeds (url, interval_minutes) VALUES (%(url)s, %(interval)s)
    ON CONFLICT (url) DO NOTHING
    RETURNING {FEED_COLUMNS}
"""

GET_FEED = f"SELECT {FEED_COLUMNS} FROM external_feeds WHERE id = %(id)s"

GET_FEED_BY_URL = f"SELECT {FEED_COLUMNS} FROM external_feeds WHERE url = %(url)s"

ALL_URLS = "SELECT url FROM external_feeds ORDER BY id"

LIST_FEEDS = f"""
    SELECT {FEED_COLUMNS} FROM external_feeds
    WHERE id > %(after)s ORDER BY id LIMIT %(limit)s
"""

DELETE_FEED = "DELETE FROM external_feeds WHERE id = %(id)s"


def _feed(row: dict[str, Any]) -> FeedOut:
    last = None
    if row["last_import_at"] is not None:
        last = LastImport(
            at=row["last_import_at"], status=row["last_status"], error=row["last_error"],
            fetched=row["last_fetched"], created=row["last_created"],
            updated=row["last_updated"], unchanged=row["last_unchanged"],
            skipped=row["last_skipped"],
        )
    stored = FeedOut.model_fields.keys() - {"last_import", "discovered_from"}
    return FeedOut(**{k: row[k] for k in stored}, last_import=last)


async def _feeds(db: AsyncConnection, sql: str, params: dict[str, Any]) -> list[FeedOut]:
    async with db.cursor(row_factory=dict_row) as cur:
        await cur.execute(sql, params)
        return [_feed(row) for row in await cur.fetchall()]


async def insert_feed(db: AsyncConnection, url: str, interval_minutes: int) -> FeedOut | None:
    """The new feed, or None when the URL is already registered."""
    found = await _feeds(db, INSERT_FEED, {"url": url, "interval": interval_minutes})
    return found[0] if found else None


async def get_feed(db: AsyncConnection, feed_id: int) -> FeedOut | None:
    found = await _feeds(db, GET_FEED, {"id": feed_id})
    return found[0] if found else None


async def get_feed_by_url(db: AsyncConnection, url: str) -> FeedOut | None:
    found = await _feeds(db, GET_FEED_BY_URL, {"url": url})
    return found[0] if found else None


async def all_urls(db: AsyncConnection) -> list[str]:
    cur = await db.execute(ALL_URLS)
    return [row[0] for row in await cur.fetchall()]


async def list_feeds(db: AsyncConnection, after: int, limit: int) -> list[FeedOut]:
    return await _feeds(db, LIST_FEEDS, {"after": after, "limit": limit})


async def delete_feed(db: AsyncConnection, feed_id: int) -> bool:
    cur = await db.execute(DELETE_FEED, {"id": feed_id})
    return cur.rowcount == 1


# One statement, so one transaction: the row locks are taken and the lease written atomically.
# SKIP LOCKED lets every instance claim a different batch instead of waiting on each other;
# the lease (next_due_at pushed ahead) keeps a claimed feed from being claimed again until it
# is finished, or until the lease runs out if its instance died mid-import.
CLAIM_DUE = """
    UPDATE external_feeds SET next_due_at = now() + make_interval(secs => %(lease)s)
    WHERE id IN (
        SELECT id FROM external_feeds
        WHERE next_due_at <= now()
        ORDER BY next_due_at
        LIMIT %(limit)s
        FOR UPDATE SKIP LOCKED
    )
    RETURNING id, url
"""

RECORD_SUCCESS = """
    UPDATE external_feeds SET
        failures = 0,
        next_due_at = now() + make_interval(mins => interval_minutes),
        last_import_at = now(), last_status = %(status)s, last_error = NULL,
        last_fetched = %(fetched)s, last_created = %(created)s, last_updated = %(updated)s,
        last_unchanged = %(unchanged)s, last_skipped = %(skipped)s
    WHERE id = %(id)s
"""

# Exponential backoff: interval * 2^failures, at most a week.
RECORD_FAILURE = """
    UPDATE external_feeds SET
        failures = failures + 1,
        next_due_at = now() + make_interval(
            mins => least(interval_minutes * power(2, least(failures + 1, 16)), 10080)::int),
        last_import_at = now(), last_status = 'failed', last_error = %(error)s,
        last_fetched = NULL, last_created = NULL, last_updated = NULL,
        last_unchanged = NULL, last_skipped = NULL
    WHERE id = %(id)s
"""


@dataclass(frozen=True)
class DueFeed:
    id: int
    url: str


async def claim_due(db: AsyncConnection, limit: int, lease_seconds: float) -> list[DueFeed]:
    cur = await db.execute(CLAIM_DUE, {"limit": limit, "lease": lease_seconds})
    return [DueFeed(int(row[0]), str(row[1])) for row in await cur.fetchall()]


async def record_success(db: AsyncConnection, feed_id: int, result: ImportOut) -> None:
    counts = result.model_dump(include={"status", "fetched", "created", "updated",
                                        "unchanged", "skipped"})
    await db.execute(RECORD_SUCCESS, {"id": feed_id, **counts})


async def record_failure(db: AsyncConnection, feed_id: int, error: str) -> None:
    await db.execute(RECORD_FAILURE, {"id": feed_id, "error": error[:1000]})
