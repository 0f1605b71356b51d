"""HTTP routes for articles: thin; SQL lives in queries, HTTP preconditions in etags."""
from __future__ import annotations

import re
from typing import Annotated

import orjson
from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import Response

from core.db import Db
from core.errors import responses
from core.routing import LeanRoute
from core.security import WriteKey

from . import cursor, etags, queries
from .errors import ArticleNotFound
from .schemas import (
    SLUG_MAX,
    SLUG_PATTERN,
    Article,
    ArticleIn,
    ArticleOut,
    ArticlePage,
    ArticlePatch,
)

router = APIRouter(prefix="/articles", tags=["articles"], route_class=LeanRoute)

# PostgreSQL's bigint range: a larger id would reach the query as numeric (no index, or an
# error); it is 422 here. Ids inside the range that no article has (0, -1) are simply 404.
ArticleId = Annotated[int, Path(ge=-(2**63), le=2**63 - 1, description="Article id")]
IfMatch = Annotated[
    str | None, Header(description="Write only if the article still has one of these ETags")
]
# The two GET routes read If-None-Match from the request and document it here: as a `Header()`
# parameter it went through FastAPI's per-request parameter validation for a plain optional
# string, about a third of the dependency-solving time of the busiest route.
_IF_NONE_MATCH = {"parameters": [{
    "name": "If-None-Match", "in": "header", "required": False, "schema": {"type": "string"},
    "description": "304 when the ETag still matches",
}]}
_SLUG = re.compile(SLUG_PATTERN)
_ETAG_HEADER = {"ETag": {"description": "The article's version", "schema": {"type": "string"}}}
_LINK_HEADER = {"Link": {"description": '`<...>; rel="next"` when more pages follow',
                         "schema": {"type": "string"}}}


def _json(data: object, status_code: int = 200, **headers: str) -> Response:
    # Rows straight to JSON: response_model only documents the shape. OPT_UTC_Z writes UTC as
    # "Z", as pydantic does.
    return Response(orjson.dumps(data, option=orjson.OPT_UTC_Z), status_code, headers,
                    media_type="application/json")


def _article(article: Article, status_code: int = 200, **headers: str) -> Response:
    return _json(article, status_code, ETag=etags.etag(article["id"], article["updated_at"]),
                 **headers)


def _fresh_or_not_modified(article: Article, request: Request) -> Response:
    tag = etags.etag(article["id"], article["updated_at"])
    if etags.none_match(request.headers.get("if-none-match"), tag):
        return Response(status_code=304, headers={"ETag": tag})
    return _json(article, ETag=tag)


def _next_link(request: Request, limit: int, next_cursor: str) -> str:
    # Relative, so it stays right behind any proxy; root_path keeps a mounted prefix.
    root = request.scope.get("root_path", "")
    return f'<{root}/articles?limit={limit}&cursor={next_cursor}>; rel="next"'


@router.post(
    "", status_code=201, response_model=ArticleOut,
    responses={201: {"headers": {**_ETAG_HEADER, "Location": {"schema": {"type": "string"}}}},
               **responses(401, 409, 413, 422, 503)},
)
async def create_article(_: WriteKey, article: ArticleIn, db: Db) -> Response:
    """Create an article; its URL is in Location."""
    async with db.connection() as conn:
        created = await queries.create(conn, article)
    return _article(created, 201, Location=f"/articles/{created['id']}")


@router.get(
    "", response_model=ArticlePage,
    responses={200: {"headers": _LINK_HEADER}, **responses(422, 503)},
)
async def list_articles(
    request: Request,
    db: Db,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor_: Annotated[
        str | None, Query(alias="cursor", max_length=64, description="next_cursor of a page")
    ] = None,
) -> Response:
    """List articles newest first, one keyset page at a time."""
    after = None if cursor_ is None else cursor.decode(cursor_)
    async with db.connection() as conn:
        items, more = await queries.page(conn, limit, after)
    if not more:
        return _json({"items": items, "next_cursor": None})
    last = items[-1]
    next_cursor = cursor.encode(cursor.Position(last["created_at"], last["id"]))
    return _json(
        {"items": items, "next_cursor": next_cursor}, Link=_next_link(request, limit, next_cursor)
    )


@router.get(
    "/by-slug/{slug}", response_model=ArticleOut, openapi_extra=_IF_NONE_MATCH,
    responses={200: {"headers": _ETAG_HEADER}, **responses(304, 404, 503)},
)
async def get_article_by_slug(slug: str, db: Db, request: Request) -> Response:
    """Return one article by slug; 304 when If-None-Match still matches."""
    article = None
    if len(slug) <= SLUG_MAX and _SLUG.match(slug):
        async with db.connection() as conn:
            article = await queries.get_by_slug(conn, slug)
    if article is None:
        raise ArticleNotFound
    return _fresh_or_not_modified(article, request)


@router.get(
    "/{article_id}", response_model=ArticleOut, openapi_extra=_IF_NONE_MATCH,
    responses={200: {"headers": _ETAG_HEADER}, **responses(304, 404, 422, 503)},
)
async def get_article(article_id: ArticleId, db: Db, request: Request) -> Response:
    """Return one article by id; 304 when If-None-Match still matches."""
    async with db.connection() as conn:
        article = await queries.get_by_id(conn, article_id)
    if article is None:
        raise ArticleNotFound
    return _fresh_or_not_modified(article, request)


@router.patch(
    "/{article_id}", response_model=ArticleOut,
    responses={200: {"headers": _ETAG_HEADER}, **responses(401, 404, 409, 412, 413, 422, 503)},
)
async def update_article(
    _: WriteKey, article_id: ArticleId, patch: ArticlePatch, db: Db, if_match: IfMatch = None
) -> Response:
    """Change some of title, slug, body; 412 when If-Match is stale."""
    versions = etags.wanted_versions(if_match, article_id)
    async with db.connection() as conn:
        updated = await queries.update(conn, article_id, patch, versions)
    return _article(updated)


@router.delete(
    "/{article_id}", status_code=204, response_class=Response,
    responses=responses(401, 404, 412, 422, 503),
)
async def delete_article(
    _: WriteKey, article_id: ArticleId, db: Db, if_match: IfMatch = None
) -> Response:
    """Delete an article; 412 when If-Match is stale."""
    versions = etags.wanted_versions(if_match, article_id)
    async with db.connection() as conn:
        await queries.delete(conn, article_id, versions)
    return Response(status_code=204)
