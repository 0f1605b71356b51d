"""The floor: the cheapest app that answers the benchmark's requests. Bare Starlette, the same
psycopg pool and the same SQL as the service, orjson, no middleware, no validation."""
from __future__ import annotations

import gc
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from psycopg.errors import UniqueViolation
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from features.articles.etags import etag
from features.articles.queries import FIRST_PAGE, GET_BY_ID, INSERT
from features.search.service import search as run_search

pool = AsyncConnectionPool(
    os.environ["DATABASE_URL"], min_size=10, max_size=10, open=False,
    kwargs={"autocommit": True},
)


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data), status, headers, media_type="application/json")


async def get_article(request: Request) -> Response:
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(GET_BY_ID, {"id": int(request.path_params["id"])})
        row = await cur.fetchone()
    if row is None:
        return _json({"detail": "Article not found"}, 404)
    tag = etag(row["id"], row["updated_at"])
    if request.headers.get("if-none-match") == tag:
        return Response(status_code=304, headers={"ETag": tag})
    return _json(row, headers={"ETag": tag})


async def list_articles(request: Request) -> Response:
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(FIRST_PAGE, {"limit": 21})
        rows = await cur.fetchall()
    return _json({"items": rows[:20], "next_cursor": "x" if len(rows) > 20 else None})


async def create_article(request: Request) -> Response:
    body = orjson.loads(await request.body())
    try:
        async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(INSERT, body)
            row = await cur.fetchone()
    except UniqueViolation:
        return _json({"detail": "Slug taken"}, 409)
    assert row is not None
    return _json(row, 201, {"Location": f"/articles/{row['id']}"})


async def search(request: Request) -> Response:
    # Search is more than one statement (analysis, then the ranked query), so the floor runs
    # the feature's own service function: the same SQL, without the framework around it.
    async with pool.connection() as conn:
        page = await run_search(conn, request.query_params["q"], 20, None)
    return Response(page.__pydantic_serializer__.to_json(page), media_type="application/json")


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    await pool.open()
    gc.collect()
    gc.freeze()  # as the service does after start-up, so p99 compares request paths, not GC
    yield
    await pool.close()


app = Starlette(
    routes=[
        Route("/articles", list_articles, methods=["GET"]),
        Route("/articles", create_article, methods=["POST"]),
        Route("/articles/{id:int}", get_article, methods=["GET"]),
        Route("/search", search, methods=["GET"]),
    ],
    lifespan=lifespan,
)
