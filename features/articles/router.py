"""HTTP routes for articles: thin; SQL lives in queries, HTTP preconditions in etags."""
from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Request, Response

from core.db import Conn
from core.errors import responses
from core.routing import FastRoute
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

router = APIRouter(prefix="/articles", tags=["articles"], route_class=FastRoute)

# PostgreSQL's bigint range: a larger id would reach the query as numeric (no index, or an
# error); it is 422 here. Ids inside the range that no article has (0, -1) are simply 404.
ArticleId = Annotated[int, Path(ge=-(2**63), le=2**63 - 1, description="Article id")]
IfMatch = Annotated[
    str | None, Header(description="Write only if the article still has one of these ETags")
]
# The two GET routes read If-None-Match from the request and document it here: as a `Header()`
# parameter it costs the busiest route FastAPI's general parameter validation for a plain
# optional string (about a tenth of its CPU).
_IF_NONE_MATCH = {"parameters": [{
    "name": "If-None-Match", "in": "header", "required": False, "schema": {"type": "string"},
    "description": "304 when the ETag still matches",
}]}
_SLUG = re.compile(SLUG_PATTERN)
_ETAG_HEADER = {"ETag": {"description": "The article's version", "schema": {"type": "string"}}}
_LINK_HEADER = {"Link": {"description": '`<...>; rel="next"` when more pages follow',
                         "schema": {"type": "string"}}}


def _tagged(article: Article, response: Response) -> Article:
    response.headers["ETag"] = etags.etag(article["id"], article["updated_at"])
    return article


def _fresh_or_not_modified(
    article: Article, request: Request, response: Response
) -> Article | Response:
    tag = etags.etag(article["id"], article["updated_at"])
    if etags.none_match(request.headers.get("if-none-match"), tag):
        return Response(status_code=304, headers={"ETag": tag})
    response.headers["ETag"] = tag
    return article


def _next_link(request: Request, limit: int, next_cursor: str) -> str:
    # Relative, so it stays right behind any proxy; root_path keeps a mounted prefix.
    root = request.scope.get("root_path", "")
    return f'<{root}/articles?limit={limit}&cursor={next_cursor}>; rel="next"'


# Routes return rows; `response_model` validates them and sends only its fields (core's route
# class writes them with orjson, the bytes pydantic-core would write). Busiest first: a request
# is matched against the routes in declaration order, and none of these paths overlaps
# another, so the order decides only how many templates a GET by id is tried against (each
# costs ~3 us).


@router.get(
    "/{article_id}", response_model=ArticleOut, openapi_extra=_IF_NONE_MATCH,
    responses={200: {"headers": _ETAG_HEADER}, **responses(304, 404, 422, 503)},
)
async def get_article(
    article_id: ArticleId, conn: Conn, request: Request, response: Response
) -> Article | Response:
    """Return one article by id; 304 when If-None-Match still matches."""
    article = await queries.get_by_id(conn, article_id)
    if article is None:
        raise ArticleNotFound
    return _fresh_or_not_modified(article, request, response)


@router.get(
    "", response_model=ArticlePage,
    responses={200: {"headers": _LINK_HEADER}, **responses(422, 503)},
)
async def list_articles(
    request: Request,
    conn: Conn,
    response: Response,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor_: Annotated[
        str | None, Query(alias="cursor", max_length=64, description="next_cursor of a page")
    ] = None,
) -> dict[str, object]:
    """List articles newest first, one keyset page at a time."""
    after = None if cursor_ is None else cursor.decode(cursor_)
    items, more = await queries.page(conn, limit, after)
    if not more:
        return {"items": items, "next_cursor": None}
    last = items[-1]
    next_cursor = cursor.encode(cursor.Position(last["created_at"], last["id"]))
    response.headers["Link"] = _next_link(request, limit, next_cursor)
    return {"items": items, "next_cursor": next_cursor}


@router.post(
    "", status_code=201, response_model=ArticleOut,
    responses={201: {"headers": {**_ETAG_HEADER, "Location": {"schema": {"type": "string"}}}},
               **responses(401, 409, 413, 422, 503)},
)
async def create_article(
    _: WriteKey, article: ArticleIn, conn: Conn, response: Response
) -> Article:
    """Create an article; its URL is in Location."""
    created = await queries.create(conn, article)
    response.headers["Location"] = f"/articles/{created['id']}"
    return _tagged(created, response)


@router.get(
    "/by-slug/{slug}", response_model=ArticleOut, openapi_extra=_IF_NONE_MATCH,
    responses={200: {"headers": _ETAG_HEADER}, **responses(304, 404, 503)},
)
async def get_article_by_slug(
    slug: str, conn: Conn, request: Request, response: Response
) -> Article | Response:
    """Return one article by slug; 304 when If-None-Match still matches."""
    article = None
    if len(slug) <= SLUG_MAX and _SLUG.match(slug):
        article = await queries.get_by_slug(conn, slug)
    if article is None:
        raise ArticleNotFound
    return _fresh_or_not_modified(article, request, response)


@router.patch(
    "/{article_id}", response_model=ArticleOut,
    responses={200: {"headers": _ETAG_HEADER}, **responses(401, 404, 409, 412, 413, 422, 503)},
)
async def update_article(
    _: WriteKey, article_id: ArticleId, patch: ArticlePatch, conn: Conn, response: Response,
    if_match: IfMatch = None,
) -> Article:
    """Change some of title, slug, body; 412 when If-Match is stale."""
    versions = etags.wanted_versions(if_match, article_id)
    return _tagged(await queries.update(conn, article_id, patch, versions), response)


@router.delete(
    "/{article_id}", status_code=204, response_class=Response,
    responses=responses(401, 404, 412, 422, 503),
)
async def delete_article(
    _: WriteKey, article_id: ArticleId, conn: Conn, if_match: IfMatch = None
) -> None:
    """Delete an article; 412 when If-Match is stale."""
    versions = etags.wanted_versions(if_match, article_id)
    await queries.delete(conn, article_id, versions)
