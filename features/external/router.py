"""HTTP routes for external: import a feed now, and register feeds for scheduled refresh."""
import asyncio
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from core.db import Conn, Pool
from core.errors import responses
from core.routing import FastRoute
from core.security import WriteKey

from . import opml, queries, service
from .deps import FetcherDep
from .errors import FeedNotFound
from .schemas import FeedIn, FeedOut, FeedPage, ImportIn, ImportOut, OpmlOut

router = APIRouter(prefix="/external", tags=["external"], route_class=FastRoute)


@router.post("/imports", responses=responses(401, 413, 422, 502, 503, 504))
async def import_now(_: WriteKey, body: ImportIn, pool: Pool, fetcher: FetcherDep) -> ImportOut:
    """Import an RSS, Atom or JSON Feed now (every item, or the first `max_items`).

    422 names why a URL is refused (scheme, private address, robots.txt, not a feed, over
    10 MB); 502 is an upstream failure after retries; 504 is EXTERNAL_FETCH_TIMEOUT passed.
    """
    return await service.import_feed(pool, fetcher, body.url, body.max_items, "request")


@router.post(
    "/feeds", status_code=status.HTTP_201_CREATED,
    responses=responses(401, 409, 413, 422, 502, 503, 504),
)
async def register_feed(
    _: WriteKey, body: FeedIn, pool: Pool, fetcher: FetcherDep, response: Response
) -> FeedOut:
    """Register a feed for refresh every `interval_minutes`; its first import is due now.

    A website's address registers the feed its page links to (`url`, with `discovered_from`
    the page); 422 when the page links to none, or the address is refused as for imports.
    """
    feed = await service.register_feed(pool, fetcher, body.url, body.interval_minutes)
    response.headers["Location"] = f"/external/feeds/{feed.id}"
    return feed


_TEXT = {"schema": {"type": "string"}}
OPML_BODY = {"requestBody": {"required": True, "content": {
    opml.MEDIA_TYPE: _TEXT, "application/xml": _TEXT, "text/xml": _TEXT,
}}}


@router.post("/feeds/opml", responses=responses(401, 413, 422, 503), openapi_extra=OPML_BODY)
async def import_opml(
    _: WriteKey, request: Request, pool: Pool, fetcher: FetcherDep,
    interval_minutes: Annotated[int, Query(ge=5, le=1440)] = 60,
) -> OpmlOut:
    """Register every outline's `xmlUrl` of an OPML 2.0 document (at most 1 MB, 1,000 feeds).

    Idempotent: per feed `registered`, `already_registered`, or `refused` with the reason.
    """
    urls = await asyncio.to_thread(opml.feed_urls, await request.body())
    return OpmlOut(results=await service.register_all(pool, fetcher, urls, interval_minutes))


@router.get(
    "/feeds.opml", response_class=Response, responses={
        **responses(503), 200: {"content": {opml.MEDIA_TYPE: {"schema": {"type": "string"}}}},
    },
)
async def export_opml(conn: Conn) -> Response:
    """Every registered feed as an OPML 2.0 document."""
    document = opml.document(await queries.all_urls(conn))
    return Response(document, media_type=f"{opml.MEDIA_TYPE}; charset=utf-8")


@router.get("/feeds", responses=responses(422, 503))
async def list_feeds(
    conn: Conn,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(pattern=r"^[0-9]{1,18}$")] = None,
) -> FeedPage:
    """Registered feeds in registration order, with their last import's time, status, counts."""
    feeds = await queries.list_feeds(conn, int(cursor or 0), limit + 1)
    more = len(feeds) > limit
    return FeedPage(items=feeds[:limit], next_cursor=str(feeds[limit - 1].id) if more else None)


@router.get("/feeds/{feed_id:int}", responses=responses(404, 422, 503))
async def get_feed(feed_id: int, conn: Conn) -> FeedOut:
    """One registered feed."""
    feed = await queries.get_feed(conn, feed_id)
    if feed is None:
        raise FeedNotFound
    return feed


@router.delete(
    "/feeds/{feed_id:int}", status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(401, 404, 422, 503),
)
async def delete_feed(_: WriteKey, feed_id: int, conn: Conn) -> None:
    """Stop refreshing a feed (its imported articles stay)."""
    deleted = await queries.delete_feed(conn, feed_id)
    if not deleted:
        raise FeedNotFound
