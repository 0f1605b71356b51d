"""Builds the FastAPI application from core parts; features are plugged in by app.py."""
from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager

import structlog
from fastapi import APIRouter, FastAPI
from starlette.middleware.cors import CORSMiddleware

from .access import AccessLog
from .clients import install_client_address
from .db import install_database_errors, make_pool
from .docs import install_docs
from .embedded import database
from .errors import install_error_handlers
from .include import include_routes
from .logging import configure_logging
from .metrics import export_metrics, record_rate_limited
from .middleware import BodyLimitMiddleware, LastResortMiddleware, RequestContextMiddleware
from .migrations import apply_migrations, migration_ids
from .pool import warn_if_unbounded
from .ratelimit import install_rate_limits
from .security import key_digests
from .settings import Settings

log = structlog.get_logger(__name__)

FeatureLifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]

_EXPOSED = [
    "X-Request-ID", "ETag", "Location", "Link", "Retry-After",
    "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset",
]


def freeze_start_up_heap() -> None:
    """What exists once the first app has started lives as long as the process: modules,
    routes, schemas. Frozen, the collector never walks it again: a full collection of it takes
    ~35 ms, which under load was the p99 of every route. Once per process; a process that
    builds many apps (the tests) freezes only the first start-up's heap, so later apps' objects
    are collected as usual."""
    if gc.get_freeze_count() == 0:
        gc.collect()
        gc.freeze()


def _lifespan(settings: Settings, feature_lifespans: Sequence[FeatureLifespan]) -> Callable:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            stack.callback(app.state.access_log.flush)  # last out: every line is written
            url = await stack.enter_async_context(database(settings))
            if settings.migrate_on_start:
                await asyncio.to_thread(apply_migrations, url)
            app.state.settings = settings
            app.state.migration_ids = await asyncio.to_thread(migration_ids)
            app.state.key_digests = key_digests(settings.api_keys)
            if not settings.api_keys:
                log.warning("no_api_keys", effect="every write is refused with 401")
            install_rate_limits(app, settings, on_reject=record_rate_limited)
            if (limiter := app.state.rate_limiter) is not None:
                limiter.open()
                stack.callback(limiter.close)
            pool = await stack.enter_async_context(make_pool(url, settings))
            await stack.enter_async_context(export_metrics(app, pool))
            app.state.pool = pool
            await warn_if_unbounded(pool, settings)
            for feature_lifespan in feature_lifespans:
                await stack.enter_async_context(feature_lifespan(app))
            freeze_start_up_heap()
            log.info("service_started", pool_max=settings.db_pool_max_size)
            yield
        log.info("service_stopped")

    return lifespan


def build_app(
    settings: Settings,
    routers: Sequence[APIRouter],
    lifespans: Sequence[FeatureLifespan] = (),
) -> FastAPI:
    """Core wiring on a plain FastAPI: logging, errors, middleware (all pure ASGI), the feature
    routers (joined by `include_routes`, in the order given), then the docs."""
    configure_logging(settings)
    app = FastAPI(
        title="Articles service",
        version="1.0.0",
        description=(
            "Articles, search, feed import and health. Writes need `Authorization: Bearer <key>`. "
            "Every error body is `{detail, request_id}`."
        ),
        docs_url=None,
        redoc_url=None,
        lifespan=_lifespan(settings, lifespans),
        # FastAPI's built-in OpenTelemetry checks its providers on every request; this service
        # reports through /metrics and its access log instead.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    install_error_handlers(app)
    install_database_errors(app)
    # Added innermost first: the request context wraps CORS, which wraps the error guards,
    # so every response (413, 429, 500 included) gets X-Request-ID and CORS headers.
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        max_header_bytes=settings.max_header_bytes,
    )
    app.add_middleware(LastResortMiddleware)
    if settings.cors_origins:  # no allowed origin: no response varies by Origin
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "HEAD", "POST", "PATCH", "DELETE"],
            allow_headers=[
                "Authorization", "Content-Type", "If-Match", "If-None-Match", "X-Request-ID",
            ],
            expose_headers=_EXPOSED,
            max_age=600,
        )
    app.state.access_log = AccessLog()
    app.add_middleware(RequestContextMiddleware, access=app.state.access_log)
    install_client_address(app, settings)
    for router in routers:  # busiest first: routes are matched in order
        include_routes(app, router)
    install_docs(app)
    return app
