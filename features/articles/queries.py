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
COLUMNS = "id, title, slug, body, created_at, updated_at"

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

# Import upsert, keyed by source_key: insert, or change title/body when they differ (the slug
# stays), or touch nothing. The last branch reports the id when nothing was written.
UPSERT = """
    WITH written AS (
        INSERT INTO articles (source_key, title, slug, body)
        VALUES (%(source_key)s, %(title)s, %(slug)s, %(body)s)
        ON CONFLICT (source_key) DO UPDATE
        SET title = excluded.title, body = excluded.body
        WHERE (articles.title, articles.body) IS DISTINCT FROM (excluded.title, excluded.body)
        RETURNING id, xmax = 0 AS inserted
    )
    SELECT id, CASE WHEN inserted THEN 'created' ELSE 'updated' END FROM written
    UNION ALL
    SELECT id, 'unchanged' FROM articles
    WHERE source_key = %(source_key)s AND NOT EXISTS (SELECT 1 FROM written)
"""


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
    db: AsyncConnection, *, source_key: str, title: str, slug: str, body: str
) -> tuple[int, str] | None:
    """(id, outcome) or None when a concurrent insert hid the row from this statement."""
    params = {"source_key": source_key, "title": title, "slug": slug, "body": body}
    async with db.cursor(row_factory=tuple_row) as cur:
        await cur.execute(UPSERT, params)
        row = await cur.fetchone()
    return (int(row[0]), str(row[1])) if row else None
