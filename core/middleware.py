"""Pure ASGI middleware: request context, access log and metrics, last-resort 500, body limit.
CORS is Starlette's own `CORSMiddleware`."""
from __future__ import annotations

import inspect
import os
import re
import time
from collections.abc import Awaitable, Callable

import structlog
from fastapi import HTTPException
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .access import AccessLog
from .errors import error_response
from .headers import header_int

_SANE_ID = re.compile(rb"[A-Za-z0-9._:~-]{1,128}")


def _client_request_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            return value.decode("ascii") if _SANE_ID.fullmatch(value) else None
    return None


def route_template(scope: Scope) -> str:
    """The matched route's path template ("/articles/{article_id}"), never the raw path."""
    route = scope.get("route") or _plain_route(scope)
    return getattr(route, "path_format", None) or "unmatched"


def _plain_route(scope: Scope) -> object | None:
    # FastAPI names its own routes in the scope; a plain Starlette route or mount (/openapi.json,
    # the docs assets) only leaves its endpoint there, so look it up among the app's routes.
    endpoint = scope.get("endpoint")
    router = scope.get("router")
    if endpoint is None or router is None:
        return None
    for route in router.routes:
        if getattr(route, "endpoint", None) is endpoint or getattr(route, "app", None) is endpoint:
            return route
    return None


class RequestContextMiddleware:
    """Gives each request an id (echoed in X-Request-ID and bound to logs), one access line,
    and its count and latency in the Prometheus metrics (both noted here and written in
    batches by `core.access.AccessLog`).

    It also answers HEAD (RFC 9110 9.3.2) on every GET route: the request goes on as a GET and
    only the body is dropped, so status and headers (Content-Length and ETag included) are the
    GET's, and the limiter counts it once. FastAPI routes answer only the methods they declare,
    and declaring HEAD on each would list it as an operation in the OpenAPI document."""

    def __init__(self, app: ASGIApp, access: AccessLog) -> None:
        self.app = app
        self.access = access  # the access line and metrics, written in batches

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _client_request_id(scope) or os.urandom(16).hex()
        id_header = (b"x-request-id", request_id.encode())
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        head = scope["method"] == "HEAD"
        inner = {**scope, "method": "GET"} if head else scope
        start = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), id_header]
            elif head and message.get("body"):
                message = {**message, "body": b""}
            await send(message)

        try:
            await self.app(inner, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - start
            self.access.record(request_id, scope["method"], route_template(inner), status, elapsed)


class LastResortMiddleware:
    """An unhandled exception is logged with its trace and answered with the app's own
    `@app.exception_handler(Exception)` (or 500) when one is registered, else with 500
    {"detail": "Server error"}. It sits inside the request context and CORS, so that answer
    carries X-Request-ID and CORS headers, which Starlette's outermost ServerErrorMiddleware
    (where such a handler would otherwise run) cannot give it. With `debug=True` the exception
    goes on to ServerErrorMiddleware: the traceback page, as in any FastAPI app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # Per app, not per module: structlog pins a logger to the configuration it first logs
        # under, and each app configures logging afresh.
        self.log = structlog.get_logger(__name__)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            self.log.exception("unhandled_error", route=route_template(scope))
            app = scope.get("app")
            if getattr(app, "debug", False):
                raise
            if started:
                return
            handler = _server_error_handler(app)
            if handler is None:
                response = error_response(scope, 500, "Server error")
            else:
                response = await handler(Request(scope, receive), exc)
            await response(scope, receive, send)


def _server_error_handler(app: object) -> Callable[..., Awaitable[Response]] | None:
    handlers = getattr(app, "exception_handlers", {})
    handler = handlers.get(Exception) or handlers.get(500)
    if handler is None:
        return None
    if inspect.iscoroutinefunction(handler):
        return handler  # type: ignore[no-any-return]

    async def in_thread(request: Request, exc: Exception) -> Response:
        return await run_in_threadpool(handler, request, exc)  # type: ignore[no-any-return]

    return in_thread


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"Request body exceeds {limit} bytes")


class BodyLimitMiddleware:
    """Size limits on a request, in the error shape: 414 for a target (path and query) over
    `max_header_bytes`, 431 for header fields (names and values) over it in all (uvicorn's
    httptools parser has no such limit), 413 for bodies over `max_bytes`: by Content-Length up
    front, else while streaming."""

    def __init__(self, app: ASGIApp, max_bytes: int, max_header_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_header_bytes = max_header_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, cap = self.max_bytes, self.max_header_bytes
        head = length = None
        size = 0
        for name, value in scope["headers"]:  # one pass: sizes, and the Content-Length
            size += len(name) + len(value)
            if name == b"content-length":
                length = value
        if len(scope.get("raw_path") or scope["path"]) + len(scope["query_string"]) > cap:
            head = 414, f"Request target exceeds {cap} bytes"
        elif size > cap:
            head = 431, f"Request header fields exceed {cap} bytes"
        elif length is not None:
            declared = header_int(length)
            if declared is None:
                head = 400, "Invalid Content-Length"
            elif declared > limit:
                head = 413, f"Request body exceeds {limit} bytes"
        if head is not None:
            await error_response(scope, *head)(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, limited_receive, send)

