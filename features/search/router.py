"""HTTP routes for search."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import StringConstraints

from core.db import Conn
from core.errors import responses
from core.ratelimit import rate_limit
from core.routing import FastRoute

from . import service
from .schemas import SearchPage

router = APIRouter(tags=["search"], route_class=FastRoute)

SearchText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=r"^[^\x00]*$"),
    Query(
        description=(
            'Web-search syntax: words, "exact phrase", `or`, `-exclude`. Results hold every '
            "phrase, no exclusion and at least one of the words, ranked by BM25F (title and "
            "body); up to 3 words, articles holding all of them come first. The last word also "
            "matches as a prefix; a misspelt word (1 edit from 4 letters, 2 from 7) still finds "
            "its articles. 1..200 characters after trimming; NUL is refused."
        ),
    ),
]


@router.get("/search", responses=responses(422, 429, 503))
@rate_limit(lambda s: s.search_rate_limit)
async def search(
    q: SearchText,
    conn: Conn,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=300)] = None,
) -> SearchPage:
    """Full-text search over articles, best match first, in keyset pages."""
    return await service.search(conn, q, limit, cursor)
