"""Rate limiting: routes declare limits, a small pure-ASGI wrapper per route enforces them.

A route declares its own limit with `@rate_limit(lambda s: s.search_rate_limit)` placed under
its router decorator; every other route gets RATE_LIMIT_DEFAULT; `@no_rate_limit` exempts a
route (health, metrics). `install_rate_limits` runs once at start-up: it parses each route's
limit and wraps that route's `handle`, so the check runs after routing but before any body is
read or any dependency (a database connection) is resolved, with no per-request string parsing.
Each route has its own budget per client. Counters live in `limits` storage (moving window):
memory:// per process, redis:// shared by every instance.
"""
from __future__ import annotations

import asyncio
import ipaddress
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

import structlog
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage
from limits.errors import StorageError
from limits.storage import storage_from_string
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import AppError, ErrorOut, error_response
from .settings import Network, Settings

F = TypeVar("F", bound=Callable[..., Any])
LIMIT_ATTR = "__rate_limit__"
EXEMPT = object()
RETRY_STORAGE_EVERY = 1.0  # seconds between probes of a storage found unreachable
# A lone timeout is a busy event loop more often than a dead Redis: that request passes, but the
# limiter only stands down (and warns) after this many failures in a row.
FAILURES_BEFORE_OUTAGE = 3

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
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


# Client identity


def _parse_ip(raw: str) -> IPAddress | None:
    """An address from a peer or X-Forwarded-For entry ("[v6]:port" and "v4:port" accepted)."""
    value = raw.strip()
    if value.startswith("["):
        value = value[1 : value.find("]")]
    elif value.count(":") == 1:
        value = value.split(":", 1)[0]
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _trusted(ip: IPAddress, proxies: Sequence[Network]) -> bool:
    return any(ip in net for net in proxies)


def _forwarded_for(scope: Scope) -> list[str]:
    values = [v.decode("latin-1") for k, v in scope["headers"] if k == b"x-forwarded-for"]
    return ",".join(values).split(",") if values else []


def client_key(scope: Scope, proxies: Sequence[Network]) -> str:
    """Who is asking: the peer, or, behind a trusted proxy, the right-most untrusted
    X-Forwarded-For address. IPv6 clients are keyed by their /64 (one subscriber's prefix)."""
    peer = scope.get("client")
    forwarded = tuple(_forwarded_for(scope)) if proxies else ()
    return _client_key(peer[0] if peer else None, forwarded, tuple(proxies))


@lru_cache(maxsize=8192)  # a busy client asks again and again; parsing it once is enough
def _client_key(peer: str | None, forwarded: tuple[str, ...], proxies: tuple[Network, ...]) -> str:
    ip = _parse_ip(peer) if peer else None
    if ip is None:
        return "unknown"
    if proxies and _trusted(ip, proxies):
        for raw in reversed(forwarded):
            hop = _parse_ip(raw)
            if hop is None:
                continue
            ip = hop
            if not _trusted(hop, proxies):
                break
    if isinstance(ip, ipaddress.IPv6Address):
        prefix = ipaddress.IPv6Address(int(ip) >> 64 << 64)
        return f"{prefix}/64"
    return str(ip)


# Storage and decisions


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    remaining: int
    reset: float  # Unix time when the window next frees a request


class _Window(deque[float]):
    """One key's hit times in its moving window, oldest first."""

    __slots__ = ("expiry",)

    def __init__(self, expiry: float) -> None:
        super().__init__()
        self.expiry = expiry


class WindowMemoryStorage(MemoryStorage):
    """limits' in-process storage with a moving window that costs O(1) per hit.

    Upstream keeps each key's hits in a list, newest first, and inserts at the front: every hit
    moves the whole window, so a client allowed 100,000 a minute costs a 100,000-entry copy per
    request, and expired keys are swept in a worker thread after nearly every hit. Here each key
    is a deque, oldest first: a hit drops what has left the window from the left and appends on
    the right. Keys nobody asked about for a whole window are swept at most once a second, a
    bounded batch at a time, on the event loop (no thread hop). Other strategies are upstream's.
    """

    SWEEP_EVERY = 1.0  # seconds
    SWEEP_BATCH = 2000  # keys looked at per sweep, so a sweep never stalls the loop

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: str):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.windows: dict[str, _Window] = {}
        self.clock: Callable[[], float] = time.time  # tests step time instead of sleeping
        self._next_sweep = 0.0
        self._unswept: list[str] = []

    def _live(self, key: str, expiry: float, now: float) -> _Window:
        window = self.windows.get(key)
        if window is None:
            window = self.windows[key] = _Window(expiry)
        cutoff = now - expiry
        while window and window[0] <= cutoff:
            window.popleft()
        return window

    async def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        if amount > limit:
            return False
        now = self.clock()
        self._sweep(now)
        window = self._live(key, expiry, now)
        if len(window) + amount > limit:
            return False
        window.extend([now] * amount)
        return True

    def take(self, key: str, limit: int, expiry: int) -> tuple[float, int, bool]:
        """Stats and hit in one step: (window start, hits before this one, whether allowed)."""
        now = self.clock()
        self._sweep(now)
        window = self._live(key, expiry, now)
        used = len(window)
        start = window[0] if window else now
        if used >= limit:
            return start, used, False
        window.append(now)
        return start, used, True

    async def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        now = self.clock()
        window = self._live(key, expiry, now)
        return (window[0], len(window)) if window else (now, 0)

    async def clear(self, key: str) -> None:
        self.windows.pop(key, None)
        await super().clear(key)

    async def reset(self) -> int | None:
        cleared = len(self.windows)
        self.windows.clear()
        return max(cleared, await super().reset() or 0)

    def _sweep(self, now: float) -> None:
        if now < self._next_sweep:
            return
        self._next_sweep = now + self.SWEEP_EVERY
        if not self._unswept:
            self._unswept = list(self.windows)
        for _ in range(min(self.SWEEP_BATCH, len(self._unswept))):
            key = self._unswept.pop()
            window = self.windows.get(key)
            if window is not None and (not window or window[-1] <= now - window.expiry):
                del self.windows[key]


def _make_storage(url: str, timeout: float) -> Any:
    if url.startswith("memory://"):
        return WindowMemoryStorage(wrap_exceptions=True)
    uri, options = _storage_options(url, timeout)
    return storage_from_string(uri, **options)


def _storage_options(url: str, timeout: float) -> tuple[str, dict[str, Any]]:
    options: dict[str, Any] = {"wrap_exceptions": True}
    if not url.startswith("memory://"):
        # The client's own timeouts stay within ours, so a dead Redis never holds a socket long.
        options |= {"connect_timeout": timeout, "stream_timeout": timeout}
    return f"async+{url}", options


@lru_cache(maxsize=8192)
def _storage_key(item: RateLimitItem, identifiers: tuple[str, ...]) -> str:
    return item.key_for(*identifiers)


class RateLimiter:
    """One storage and strategy per app; fails open, with one warning, while storage is down."""

    def __init__(self, settings: Settings, on_reject: RejectHook | None = None) -> None:
        self.storage = _make_storage(
            settings.rate_limit_storage_url, settings.rate_limit_storage_timeout
        )
        self.remote = not isinstance(self.storage, WindowMemoryStorage)
        self.timeout = settings.rate_limit_storage_timeout
        self.proxies = tuple(settings.trusted_proxies)
        self.on_reject = on_reject
        self.rules: dict[int, RouteRule] = {}  # id(route) -> its limit in this app
        self._failures = 0
        self._down_since: float | None = None
        self._retry_at = 0.0
        # Per instance, not per module: structlog pins a logger to the configuration it first
        # logs under, and every app (tests build many) configures logging afresh.
        self.log = structlog.get_logger(__name__)

    async def check(self, item: RateLimitItem, *identifiers: str) -> Verdict | None:
        """Take one request from the budget; None when storage cannot answer (fail open)."""
        key, expiry = _storage_key(item, identifiers), item.get_expiry()
        if not self.remote:
            # In-process counters cannot fail or hang: one plain call, no awaits, no deadline.
            start, used, allowed = self.storage.take(key, item.amount, expiry)
            return _verdict(item, start + expiry, used, allowed)
        if self._down_since is not None:
            now = time.monotonic()
            if now < self._retry_at:
                return None
            self._retry_at = now + RETRY_STORAGE_EVERY  # this request probes; others pass
        try:
            async with asyncio.timeout(self.timeout):
                # MovingWindowRateLimiter's get_window_stats then hit, on the storage directly
                # with the key built once (limits builds it per call, the costliest part of a
                # hit). Stats first: a client already over its budget costs one round trip.
                start, used = await self.storage.get_moving_window(key, item.amount, expiry)
                allowed = used < item.amount and await self.storage.acquire_entry(
                    key, item.amount, expiry
                )
        except (StorageError, TimeoutError, OSError) as exc:
            self._failed(exc)
            return None
        self._failures = 0
        if self._down_since is not None:
            self._recovered(self._down_since)
        return _verdict(item, start + expiry, used, allowed)

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


def _verdict(item: RateLimitItem, reset: float, used: int, allowed: bool) -> Verdict:
    remaining = item.amount - used - 1 if allowed else 0
    return Verdict(allowed, max(remaining, 0), reset)


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
        verdict = await limiter.check(rule.item, rule.key, client_key(scope, limiter.proxies))
        if verdict is None:
            await self.handle(scope, receive, send)
            return
        reset = str(math.ceil(verdict.reset))
        if not verdict.allowed:
            headers = {
                "X-RateLimit-Limit": rule.limit,
                "X-RateLimit-Remaining": str(verdict.remaining),
                "X-RateLimit-Reset": reset,
            }
            limiter.rejected(rule.path)
            retry_after = max(1, math.ceil(verdict.reset - time.time()))
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
            (b"x-ratelimit-remaining", str(verdict.remaining).encode()),
            (b"x-ratelimit-reset", reset.encode()),
        )

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *raw]
            await send(message)

        await self.handle(scope, receive, send_with_headers)


# Start-up wiring

_HEADER_DOCS = {
    "X-RateLimit-Limit": "Requests allowed per window on this route",
    "X-RateLimit-Remaining": "Requests left in the current window",
    "X-RateLimit-Reset": "Unix time (seconds) when the window next frees a request",
}
_RETRY_AFTER_DOC = {"description": "Seconds to wait before retrying", "schema": {"type": "integer"}}


def _headers_doc() -> dict[str, Any]:
    return {n: {"description": d, "schema": {"type": "integer"}} for n, d in _HEADER_DOCS.items()}


def _add_429(schema: dict[str, Any], operations: set[tuple[str, str]]) -> None:
    """List 429 and the X-RateLimit headers on every limited operation of the schema."""
    error = ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
    schema.setdefault("components", {}).setdefault("schemas", {}).setdefault("ErrorOut", error)
    too_many = {
        "description": "Too many requests",
        "headers": {"Retry-After": _RETRY_AFTER_DOC, **_headers_doc()},
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}},
    }
    for path, method in operations:
        operation = schema.get("paths", {}).get(path, {}).get(method)
        if operation is None:
            continue
        answers = operation.setdefault("responses", {})
        answers.setdefault("429", too_many)
        for code, answer in answers.items():
            if code.startswith("2") or code == "304":
                answer.setdefault("headers", {}).update(_headers_doc())


def _document(app: FastAPI, operations: set[tuple[str, str]]) -> None:
    build = app.openapi  # FastAPI caches the schema; the additions are idempotent

    def openapi() -> dict[str, Any]:
        schema = build()
        _add_429(schema, operations)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


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
    _document(app, operations)
