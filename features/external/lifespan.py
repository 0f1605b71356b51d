"""Start-up and shutdown of what the external feature keeps for the app's life: the shared
HTTP client, the fetcher (guard, policy, robots.txt cache) and the feed scheduler."""
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI

from .fetch import Fetcher, FetchPolicy, make_client
from .guard import Guard
from .scheduler import TICK_SECONDS, Scheduler

log = structlog.get_logger(__name__)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Sets `app.state.external_fetcher` and `app.state.external_scheduler`.

    Test seams, read when set before start-up: `app.state.external_tick_seconds` replaces the
    scheduler's tick (None: no background task; tests call `run_once` themselves), and
    `app.state.external_transport` is the client's transport.
    """
    settings = app.state.settings
    # httpx logs every request's full URL at INFO; a private feed's URL can carry a token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if settings.external_allow_private:
        log.warning(
            "external_allow_private_enabled",
            effect="feed imports may reach private, loopback and link-local addresses",
            advice="tests only: never set EXTERNAL_ALLOW_PRIVATE=true in production",
        )
    tick = getattr(app.state, "external_tick_seconds", TICK_SECONDS)
    transport = getattr(app.state, "external_transport", None)
    async with make_client(transport) as client:
        fetcher = Fetcher(
            client,
            Guard.for_settings(settings.external_allow_private),
            FetchPolicy(timeout=settings.external_fetch_timeout),
        )
        scheduler = Scheduler(app.state.pool, fetcher, tick_seconds=tick or TICK_SECONDS)
        app.state.external_fetcher = fetcher
        app.state.external_scheduler = scheduler
        if tick is not None:
            scheduler.start()
        try:
            yield
        finally:
            await scheduler.stop()
