"""Health probes; never rate limited."""
from fastapi import APIRouter, Request, Response

from core.ratelimit import no_rate_limit

from .queries import database_check
from .schemas import Live, Ready

router = APIRouter(prefix="/health", tags=["health"])


@router.get("/live")
@no_rate_limit
async def live() -> Live:
    """200 while the process serves requests."""
    return Live()


@router.get("/ready", responses={503: {"model": Ready, "description": "A check failed"}})
@no_rate_limit
async def ready(request: Request, response: Response) -> Ready:
    """200 when PostgreSQL answers within 2 s and migrations are applied; else 503."""
    state = request.app.state
    check = await database_check(state.pool, state.migration_ids)
    if check.status != "ok":
        response.status_code = 503
        response.headers["Retry-After"] = "5"
    return Ready(status=check.status, checks={"database": check})
