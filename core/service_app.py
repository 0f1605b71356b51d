"""`ServiceApp`: FastAPI with only the layers this service uses on the request path.

Every layer between the server and a route costs each request, so this subclass keeps what the
service relies on and drops what it replaces:

- The middleware stack is the user middleware (request context, CORS, last-resort 500, body
  limit: all core's, pure ASGI) around FastAPI's exception handlers and the exit stack its
  request handler asserts. FastAPI's own outer layers go: ServerErrorMiddleware (the 500 is
  LastResortMiddleware's, inside the request context and CORS so a 500 carries both), the
  OpenTelemetry exception hook (telemetry is off) and its body-size limit (BodyLimitMiddleware
  answers 413 in the service's error shape). Configuring what those layers would have served
  (a 500 or Exception handler, `max_body_size`) fails at start-up instead of being ignored.
- `include_router(router)` joins the router's routes to the app's own route list, ahead of
  /openapi.json and the docs, in the order features are given. FastAPI 0.165 keeps an included
  router as a layer of its own, matched on every request (~18 us of a GET by id). Feature
  routers carry their prefix and tags themselves, so the routes, the OpenAPI document and the
  metrics are the same. Joined routes are not reached by `app.dependency_overrides`, so that
  dict refuses entries rather than be silently ignored; the tests here use real servers.
  `include_router` with any option (prefix, dependencies, ...) is FastAPI's own.
"""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.middleware.asyncexitstack import AsyncExitStackMiddleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.types import ASGIApp


class NoOverrides(dict[Any, Any]):
    """`dependency_overrides` of a ServiceApp: refuses entries instead of ignoring them."""

    def __setitem__(self, key: Any, value: Any) -> None:
        raise RuntimeError(
            "dependency_overrides do not reach routes joined by ServiceApp.include_router "
            "(see core/service_app.py): test against real servers instead"
        )

    def update(self, *args: Any, **kwargs: Any) -> None:
        if args or kwargs:
            self.__setitem__(None, None)

    def setdefault(self, key: Any, default: Any = None) -> Any:
        self.__setitem__(key, default)


class ServiceApp(FastAPI):
    """FastAPI with a slim middleware stack and feature routes joined directly (module doc)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dependency_overrides = NoOverrides()
        self._joined = 0  # feature routes go first, in the order they are included

    def include_router(self, router: APIRouter, **options: Any) -> None:  # type: ignore[override]
        if options:
            super().include_router(router, **options)
            return
        routes = list(router.routes)
        self.router.routes[self._joined:self._joined] = routes
        self._joined += len(routes)
        self.openapi_schema = None

    def build_middleware_stack(self) -> ASGIApp:
        if any(key in (500, Exception) for key in self.exception_handlers):
            raise RuntimeError("a 500 is LastResortMiddleware's answer: register no 500 handler")
        if getattr(self, "max_body_size", None) is not None:
            raise RuntimeError("the body limit is BodyLimitMiddleware's (MAX_BODY_BYTES)")
        app: ASGIApp = ExceptionMiddleware(
            AsyncExitStackMiddleware(self.router), handlers=self.exception_handlers,
            debug=self.debug,
        )
        for cls, args, kwargs in reversed(self.user_middleware):
            app = cls(app, *args, **kwargs)
        return app
