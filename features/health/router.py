"""Health probes and Prometheus metrics; never rate limited."""
from typing import Any

from fastapi import APIRouter, Request, Response

from core.db import Pool
from core.metrics import CONTENT_TYPE
from core.ratelimit import no_rate_limit
from core.routing import FastRoute

from .queries import database_check
from .schemas import Live, Ready

router = APIRouter(tags=["health"], route_class=FastRoute)

_EXPOSITION: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Prometheus text exposition format 0.0.4",
        "content": {CONTENT_TYPE: {"schema": {"type": "string"}}},
    }
}


@router.get("/health/live")
@no_rate_limit
async def live() -> Live:
    """200 while the process serves requests."""
    return Live()


@router.get(
    "/health/ready",
    response_model_exclude_none=True,
    responses={503: {"model": Ready, "description": "A check failed"}},
)
@no_rate_limit
async def ready(request: Request, response: Response, pool: Pool) -> Ready:
    """200 when PostgreSQL answers within 2 s and migrations are applied; else 503."""
    check = await database_check(pool, request.app.state.migration_ids)
    if check.status != "ok":
        response.status_code = 503
        response.headers["Retry-After"] = "5"
    return Ready(status=check.status, checks={"database": check})


@router.get("/metrics", response_class=Response, responses=_EXPOSITION)
@no_rate_limit
async def metrics(request: Request) -> Response:
    """Requests, latency, pool, rate-limit rejections and imports, for Prometheus to scrape."""
    body = await request.app.state.metrics.render()
    return Response(body, media_type=CONTENT_TYPE)
