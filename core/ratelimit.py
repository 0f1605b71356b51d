"""Rate limiting: routes declare limits, a small pure-ASGI wrapper per route enforces them.

A route declares its own limit with `@rate_limit(lambda s: s.search_rate_limit)` placed under
its router decorator; every other route gets RATE_LIMIT_DEFAULT; `@no_rate_limit` exempts a
route (health, metrics). `install_rate_limits` runs once at start-up: it parses each route's
limit and wraps that route's `handle`, so the check runs after routing but before any body is
read or any dependency (a database connection) is resolved, with no per-request string parsing.
Each route has its own budget per client (`core.clients.client_key`).

Counting is the `limits` package's own: the strategy named by RATE_LIMIT_STRATEGY (default
`sliding-window-counter`: two counters per client, no burst at a window's edge) over the storage
named by RATE_LIMIT_STORAGE_URL (memory:// per process, counted inline; redis:// shared by every
instance, through limits' asyncio client). A remote storage that cannot answer within
RATE_LIMIT_STORAGE_TIMEOUT fails open.
"""
from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import structlog
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from limits import RateLimitItem, parse, strategies
from limits.aio import strategies as aio_strategies
from limits.errors import StorageError
from limits.storage import storage_from_string
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .clients import client_key
from .compat import MemorySweeper
from .errors import AppError, error_response
from .ratelimit_docs import document_limits
from .settings import Settings

F = TypeVar("F", bound=Callable[..., Any])
LIMIT_ATTR = "__rate_limit__"
EXEMPT = object()
RETRY_STORAGE_EVERY = 1.0  # seconds between probes of a storage found unreachable
# A lone timeout is a busy event loop more often than a dead Redis: that request passes, but the
# limiter only stands down (and warns) after this many failures in a row.
FAILURES_BEFORE_OUTAGE = 3

RejectHook = Callable[[str], None]


def rate_limit(choose: Callable[[Settings], str]) -> Callable[[F], F]:
    """Declare this route's limit, chosen from settings when the app starts."""

    def mark(endpoint: F) -> F:
        setattr(endpoint, LIMIT_ATTR, choose)
        return endpoint

    return mark


def no_rate_limit(endpoint: F) -> F:
    """Exempt this route from every limit."""
    setattr(endpoint, LIMIT_ATTR, EXEMPT)
    return endpoint


class TooManyRequests(AppError):
    status_code = 429
    detail = "Too many requests"


# (allowed, remaining, reset: the Unix time when the window next frees a request). A plain
# tuple: one is made per request.
Verdict = tuple[bool, int, float]


# Strategy names as RATE_LIMIT_STRATEGY spells them, and limits' class names for them.
STRATEGIES = {
    "sliding-window-counter": "SlidingWindowCounterRateLimiter",
    "fixed-window": "FixedWindowRateLimiter",
    "moving-window": "MovingWindowRateLimiter",
}


def _make_counting(url: str, strategy: str, timeout: float) -> tuple[Any, Any]:
    """limits' storage for `url` and the named strategy over it.

    memory:// is limits' synchronous `MemoryStorage` and strategies, called inline (`count`),
    its expired counters dropped once a second by `core.compat.MemorySweeper` (not by limits'
    10 ms timers); its asyncio twin would start a task per counted request. A crowd still
    costs memory, so a public instance belongs on redis://. Moving-window on memory:// is
    refused by the settings: that storage never drops a client's window once it has one.

    A remote storage is limits' asyncio one, so a slow Redis never blocks the loop; the
    client's own timeouts stay within ours, so a dead Redis never holds a socket long."""
    name = STRATEGIES[strategy]
    if url.startswith("memory://"):
        return (storage := storage_from_string(url)), getattr(strategies, name)(storage)
    storage = storage_from_string(
        f"async+{url}", wrap_exceptions=True, connect_timeout=timeout, stream_timeout=timeout
    )
    return storage, getattr(aio_strategies, name)(storage)


class RateLimiter:
    """One limits strategy and storage per app; fails open, with one warning, while a remote
    storage is down."""

    def __init__(self, settings: Settings, on_reject: RejectHook | None = None) -> None:
        url = settings.rate_limit_storage_url
        self.remote = not url.startswith("memory://")
        self.storage, self.strategy = _make_counting(
            url, settings.rate_limit_strategy, settings.rate_limit_storage_timeout
        )
        self.timeout = settings.rate_limit_storage_timeout
        self.sweeper = None if self.remote else MemorySweeper(self.storage)
        self.on_reject = on_reject
        self.rules: dict[int, RouteRule] = {}  # id(route) -> its limit in this app
        self._failures = 0
        self._down_since: float | None = None
        self._retry_at = 0.0
        # Per instance, not per module: structlog pins a logger to the configuration it first
        # logs under, and every app (tests build many) configures logging afresh.
        self.log = structlog.get_logger(__name__)

    def open(self) -> None:
        if self.sweeper is not None:
            self.sweeper.start()

    def close(self) -> None:
        if self.sweeper is not None:
            self.sweeper.stop()

    def count(self, item: RateLimitItem, *identifiers: str) -> Verdict:
        """`check` for in-process counters: no I/O, no deadline, nothing to await."""
        allowed = self.strategy.hit(item, *identifiers)
        stats = self.strategy.get_window_stats(item, *identifiers)
        return allowed, max(stats.remaining, 0), stats.reset_time

    async def check(self, item: RateLimitItem, *identifiers: str) -> Verdict | None:
        """Take one request from the budget; None when storage cannot answer (fail open)."""
        if not self.remote:
            return self.count(item, *identifiers)
        if self._down_since is not None:
            now = time.monotonic()
            if now < self._retry_at:
                return None
            self._retry_at = now + RETRY_STORAGE_EVERY  # this request probes; others pass
        try:
            async with asyncio.timeout(self.timeout):
                verdict = await self._take(item, identifiers)
        except (StorageError, TimeoutError, OSError) as exc:
            self._failed(exc)
            return None
        self._failures = 0
        if self._down_since is not None:
            self._recovered(self._down_since)
        return verdict

    async def _take(self, item: RateLimitItem, identifiers: tuple[str, ...]) -> Verdict:
        allowed = await self.strategy.hit(item, *identifiers)
        stats = await self.strategy.get_window_stats(item, *identifiers)
        return allowed, max(stats.remaining, 0), stats.reset_time

    def _failed(self, exc: BaseException) -> None:
        self._failures += 1
        if self._down_since is None and self._failures >= FAILURES_BEFORE_OUTAGE:
            self._down_since = time.monotonic()
            self._retry_at = self._down_since + RETRY_STORAGE_EVERY
            cause = exc.__cause__ if isinstance(exc, StorageError) else exc
            self.log.warning(
                "rate_limit_storage_unavailable",
                error=type(cause or exc).__name__,
                effect="requests are not limited until storage answers",
            )

    def _recovered(self, since: float) -> None:
        self._down_since = None
        self.log.info("rate_limit_storage_recovered", down_s=round(time.monotonic() - since, 1))

    def rejected(self, route: str) -> None:
        if self.on_reject is not None:
            self.on_reject(route)


@dataclass(frozen=True)
class RouteRule:
    """One route's limit in one app, resolved once at start-up."""

    item: RateLimitItem
    key: str  # methods + template: the same budget key on every instance
    path: str  # the template ("/articles/{article_id}")
    limit: str


class LimitedRoute:
    """Stands in for one route's `handle`: checks the client's budget, adds X-RateLimit headers.

    `handle` (not the route's `app`) because FastAPI calls the original route's `handle` for
    every inclusion of it, while it builds a separate ASGI app per inclusion. Route objects are
    shared by every app built from the same feature modules, so the wrapper holds no limiter:
    it finds the serving app's limiter and this route's rule through `scope["app"]`.
    """

    def __init__(self, handle: ASGIApp, route: Route) -> None:
        self.handle = handle
        self.route_id = id(route)
        self.methods = route.methods

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limiter: RateLimiter | None = getattr(scope["app"].state, "rate_limiter", None)
        rule = limiter.rules.get(self.route_id) if limiter is not None else None
        if rule is None or (self.methods and scope["method"] not in self.methods):
            await self.handle(scope, receive, send)  # unlimited here, or the route's own 405
            return
        assert limiter is not None
        verdict = (
            await limiter.check(rule.item, rule.key, client_key(scope)) if limiter.remote
            else limiter.count(rule.item, rule.key, client_key(scope))
        )
        if verdict is None:
            await self.handle(scope, receive, send)
            return
        allowed, remaining, reset_at = verdict
        reset = str(math.ceil(reset_at))
        if not allowed:
            headers = {
                "X-RateLimit-Limit": rule.limit,
                "X-RateLimit-Remaining": str(remaining),
                "X-RateLimit-Reset": reset,
            }
            limiter.rejected(rule.path)
            retry_after = max(1, math.ceil(reset_at - time.time()))
            # Answered here rather than raised: the 429 is the cheapest answer the service
            # gives, and Starlette's exception machinery would double its cost. Same body and
            # headers as every AppError; the outer middleware add CORS and X-Request-ID.
            refusal = error_response(
                scope, TooManyRequests.status_code, TooManyRequests.detail,
                {"Retry-After": str(retry_after), **headers},
            )
            await refusal(scope, receive, send)
            return
        raw = (
            (b"x-ratelimit-limit", rule.limit.encode()),
            (b"x-ratelimit-remaining", str(remaining).encode()),
            (b"x-ratelimit-reset", reset.encode()),
        )

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *raw]
            await send(message)

        await self.handle(scope, receive, send_with_headers)


# Start-up wiring


def _limit_for(route: Route, settings: Settings) -> RateLimitItem | None:
    declared = getattr(route.endpoint, LIMIT_ATTR, None)
    if declared is EXEMPT:
        return None
    if declared is None:
        return settings.default_limit
    return parse(declared(settings))


def install_rate_limits(
    app: FastAPI, settings: Settings, on_reject: RejectHook | None = None
) -> None:
    """Resolve each route's limit once and wrap the route. `on_reject(route_path)` is called
    for every 429 (the hook for a rejections-by-route metric)."""
    if not settings.rate_limit_enabled:
        app.state.rate_limiter = None
        return
    limiter = RateLimiter(settings, on_reject)
    app.state.rate_limiter = limiter
    direct = set(map(id, app.router.routes))
    operations: set[tuple[str, str]] = set()
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        # FastAPI copies plain Starlette routes inside included routers (none here); mounts
        # (docs assets) and websockets stay unlimited.
        if not isinstance(route, APIRoute) and not (
            isinstance(route, Route) and id(route) in direct
        ):
            continue
        item = _limit_for(route, settings)
        if item is None:
            continue
        path = context.path_format or route.path_format
        key = f"{','.join(sorted(route.methods or ()))} {path}"
        limiter.rules[id(route)] = RouteRule(item, key, path, str(item.amount))
        if not isinstance(route.__dict__.get("handle"), LimitedRoute):  # once per route object
            route.handle = LimitedRoute(route.handle, route)  # type: ignore[method-assign]
        if isinstance(route, APIRoute):
            operations |= {(path, method.lower()) for method in context.methods or ()}
    document_limits(app, operations)
