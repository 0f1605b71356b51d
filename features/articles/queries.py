"""SQL for articles; every function takes an open connection."""
from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from psycopg import AsyncConnection
from psycopg.errors import UniqueViolation
from psycopg.rows import dict_row, tuple_row

from .cursor import Position
from .errors import ArticleNotFound, PreconditionFailed, SlugTaken
from .schemas import Article, ArticleIn, ArticlePatch

SLUG_CONSTRAINT = "articles_slug_key"
COLUMNS = "id, title, slug, body, created_at, updated_at, source_url, published_at"

GET_BY_ID = f"SELECT {COLUMNS} FROM articles WHERE id = %(id)s::bigint"

GET_BY_SLUG = f"SELECT {COLUMNS} FROM articles WHERE slug = %(slug)s"

EXISTS = "SELECT EXISTS (SELECT 1 FROM articles WHERE id = %(id)s::bigint)"

# Keyset pages, newest first, on the (created_at DESC, id DESC) index. One row more than asked
# tells whether another page follows.
FIRST_PAGE = f"""
    SELECT {COLUMNS} FROM articles
    ORDER BY created_at DESC, id DESC
    LIMIT %(limit)s
"""

NEXT_PAGE = f"""
    SELECT {COLUMNS} FROM articles
    WHERE (created_at, id) < (%(created_at)s::timestamptz, %(id)s::bigint)
    ORDER BY created_at DESC, id DESC
    LIMIT %(limit)s
"""

INSERT = f"""
    INSERT INTO articles (title, slug, body)
    VALUES (%(title)s, %(slug)s, %(body)s)
    RETURNING {COLUMNS}
"""

# The If-Match check is part of the write: under a concurrent update PostgreSQL re-evaluates
# the WHERE on the newest row version, so a stale version matches nothing (no lost update).
# %(versions)s is NULL when there is no condition.
UPDATE = f"""
    UPDATE articles
    SET title = coalesce(%(title)s::text, title),
        slug = coalesce(%(slug)s::text, slug),
        body = coalesce(%(body)s::text, body)
    WHERE id = %(id)s::bigint
      AND (%(versions)s::timestamptz[] IS NULL OR updated_at = ANY (%(versions)s::timestamptz[]))
    RETURNING {COLUMNS}
"""

DELETE = """
    DELETE FROM articles
    WHERE id = %(id)s::bigint
      AND (%(versions)s::timestamptz[] IS NULL OR updated_at = ANY (%(versions)s::timestamptz[]))
    RETURNING id
"""

# Import upsert, keyed by source_key: insert, or change title/body/provenance when they differ
# (the slug stays), or touch nothing. The last branch reports the id when nothing was written.
_ON_CONFLICT = """
    ON CONFLICT (source_key) DO UPDATE
    SET title = excluded.title, body = excluded.body,
        source_url = excluded.source_url, published_at = excluded.published_at
    WHERE (articles.title, articles.body, articles.source_url, articles.published_at)
          IS DISTINCT FROM
          (excluded.title, excluded.body, excluded.source_url, excluded.published_at)
"""

UPSERT = f"""
    WITH written AS (
        INSERT INTO articles (source_key, title, slug, body, source_url, published_at)
        VALUES (%(source_key)s, %(title)s, %(slug)s, %(body)s, %(source_url)s,
                %(published_at)s::timestamptz)
        {_ON_CONFLICT}
        RETURNING id, xmax = 0 AS inserted
    )
    SELECT id, CASE WHEN inserted THEN 'created' ELSE 'updated' END FROM written
    UNION ALL
    SELECT id, 'unchanged' FROM articles
    WHERE source_key = %(source_key)s AND NOT EXISTS (SELECT 1 FROM written)
"""

# The same for many rows in one statement; n is each row's place in the input. A row whose id
# comes back NULL was inserted by a concurrent transaction this statement cannot see.
UPSERT_MANY = f"""
    WITH input AS (
        SELECT * FROM unnest(%(keys)s::text[], %(titles)s::text[], %(slugs)s::text[],
                             %(bodies)s::text[], %(urls)s::text[], %(dates)s::timestamptz[])
               WITH ORDINALITY AS t(source_key, title, slug, body, source_url, published_at, n)
    ), written AS (
        INSERT INTO articles (source_key, title, slug, body, source_url, published_at)
        SELECT source_key, title, slug, body, source_url, published_at FROM input ORDER BY n
        {_ON_CONFLICT}
        RETURNING source_key, id, xmax = 0 AS inserted
    )
    SELECT input.n, coalesce(written.id, articles.id),
           CASE WHEN written.id IS NULL THEN 'unchanged'
                WHEN written.inserted THEN 'created' ELSE 'updated' END
    FROM input
    LEFT JOIN written ON written.source_key = input.source_key
    LEFT JOIN articles ON articles.source_key = input.source_key AND written.id IS NULL
    ORDER BY input.n
"""

EXISTING_KEYS = "SELECT source_key FROM articles WHERE source_key = ANY (%(keys)s::text[])"
TAKEN_SLUGS = "SELECT slug FROM articles WHERE slug = ANY (%(slugs)s::text[])"


async def _one(db: AsyncConnection, sql: str, params: dict[str, Any]) -> Article | None:
    async with db.cursor(row_factory=dict_row) as cur:
        await cur.execute(sql, params)
        return cast(Article | None, await cur.fetchone())


async def _slug_guard(db: AsyncConnection, sql: str, params: dict[str, Any]) -> Article | None:
    """Run a write; the unique constraint (never a prior check) decides that a slug is taken."""
    try:
        return await _one(db, sql, params)
    except UniqueViolation as exc:
        if exc.diag.constraint_name == SLUG_CONSTRAINT:
            raise SlugTaken from None
        raise


async def get_by_id(db: AsyncConnection, article_id: int) -> Article | None:
    return await _one(db, GET_BY_ID, {"id": article_id})


async def get_by_slug(db: AsyncConnection, slug: str) -> Article | None:
    return await _one(db, GET_BY_SLUG, {"slug": slug})


async def exists(db: AsyncConnection, article_id: int) -> bool:
    cur = await db.execute(EXISTS, {"id": article_id})
    row = await cur.fetchone()
    return bool(row and row[0])


async def page(
    db: AsyncConnection, limit: int, after: Position | None
) -> tuple[list[Article], bool]:
    """Up to `limit` articles after `after` (newest first), and whether more follow."""
    params: dict[str, Any] = {"limit": limit + 1}
    if after is not None:
        params.update(created_at=after.created_at, id=after.id)
    async with db.cursor(row_factory=dict_row) as cur:
        await cur.execute(FIRST_PAGE if after is None else NEXT_PAGE, params)
        rows = cast(list[Article], await cur.fetchall())
    return rows[:limit], len(rows) > limit


async def create(db: AsyncConnection, article: ArticleIn) -> Article:
    created = await _slug_guard(db, INSERT, article.model_dump())
    assert created is not None  # INSERT ... RETURNING always returns the row
    return created


async def update(
    db: AsyncConnection, article_id: int, patch: ArticlePatch, versions: list[datetime] | None
) -> Article:
    """Apply a partial update if the article is at one of `versions` (None: any version)."""
    params = {"id": article_id, "versions": versions, **patch.model_dump()}
    updated = await _slug_guard(db, UPDATE, params)
    if updated is not None:
        return updated
    raise await _why_not_written(db, article_id, versions)


async def delete(db: AsyncConnection, article_id: int, versions: list[datetime] | None) -> None:
    """Delete the article if it is at one of `versions` (None: any version)."""
    cur = await db.execute(DELETE, {"id": article_id, "versions": versions})
    if await cur.fetchone() is None:
        raise await _why_not_written(db, article_id, versions)


async def _why_not_written(
    db: AsyncConnection, article_id: int, versions: list[datetime] | None
) -> ArticleNotFound | PreconditionFailed:
    # Only picks the error code: the write and its version check were one statement.
    if versions is not None and await exists(db, article_id):
        return PreconditionFailed()
    return ArticleNotFound()


async def upsert(
    db: AsyncConnection, *, source_key: str, title: str, slug: str, body: str,
    source_url: str | None = None, published_at: datetime | None = None,
) -> tuple[int, str] | None:
    """(id, outcome) or None when a concurrent insert hid the row from this statement."""
    params = {"source_key": source_key, "title": title, "slug": slug, "body": body,
              "source_url": source_url, "published_at": published_at}
    async with db.cursor(row_factory=tuple_row) as cur:
        await cur.execute(UPSERT, params)
        row = await cur.fetchone()
    return (int(row[0]), str(row[1])) if row else None


async def upsert_many(
    db: AsyncConnection, rows: list[dict[str, Any]]
) -> list[tuple[int | None, str]]:
    """(id or None, outcome) per row, in order; rows have distinct source keys."""
    params = {
        "keys": [r["source_key"] for r in rows], "titles": [r["title"] for r in rows],
        "slugs": [r["slug"] for r in rows], "bodies": [r["body"] for r in rows],
        "urls": [r["source_url"] for r in rows], "dates": [r["published_at"] for r in rows],
    }
    async with db.cursor(row_factory=tuple_row) as cur:
        await cur.execute(UPSERT_MANY, params)
        result = await cur.fetchall()
    return [(None if row[1] is None else int(row[1]), str(row[2])) for row in result]


async def existing_keys(db: AsyncConnection, keys: list[str]) -> set[str]:
    cur = await db.execute(EXISTING_KEYS, {"keys": keys})
    return {row[0] for row in await cur.fetchall()}


async def taken_slugs(db: AsyncConnection, slugs: list[str]) -> set[str]:
    cur = await db.execute(TAKEN_SLUGS, {"slugs": slugs})
    return {row[0] for row in await cur.fetchall()}
