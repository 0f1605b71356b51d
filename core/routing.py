"""`FastRoute`: FastAPI's APIRoute with a shorter request handler for the common route shape.

FastAPI's request handler is general: it reads bodies and forms, and solves a dependency tree
(building a Response, query, header and cookie views per level whether or not a route has
such parameters, and an anyio cancel scope per `yield` dependency). For a route of the shape
most reads have, that is about a third of a request's CPU. `FastRoute.get_route_handler`,
FastAPI's documented hook for custom route classes, hands such routes a handler that does the
same steps in the same order with FastAPI's own pieces, and leaves everything around it to
FastAPI: `request_response` and its exit stacks, the exception handlers, OpenAPI, routing.

The shape (anything else gets FastAPI's own handler, unchanged):

- dependencies that take the `Request` or nothing: `async def get_x(request)`, or an async
  generator (`yield`) with `Depends(..., scope="function")`, at most one of those;
- path, query and header parameters (plain scalars validated by the field's own `validate`,
  anything else by FastAPI's `request_params_to_args`: the same values and the same 422
  items), `request: Request`, `response: Response`;
- no body, no cookies, no background tasks, no security scopes, no `max_concurrency`.

Per request, while `app.dependency_overrides` holds anything, the route hands the request to
FastAPI's own handler, so every override (assigned, replaced, `|=`, monkeypatched) is honoured
and clearing it brings the fast path back. The return value goes through `response_model` as
in FastAPI: validated by the route's own `response_field` (errors located at "response"),
filtered to the model's fields and serialised with the route's include/exclude options
(`core.output`: pydantic-core's JSON, or orjson's identical bytes for plain TypedDicts); a
`Response` returned is sent as it is. A yield dependency exits
once the response is built, before it is sent; an exception (a response validation error
included) is thrown into the generator, and the exit is shielded from cancellation, as in
FastAPI.
"""
from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Coroutine
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from anyio import CancelScope
from fastapi.datastructures import DefaultPlaceholder
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import FastAPIError, RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from .compat import effective_route
from .output import Output
from .params import Params
from .security import credentials_first

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


@dataclass(frozen=True, slots=True)
class _Provider:
    name: str
    call: Callable[..., Any]
    takes_request: bool
    generator: bool  # entered as an async context manager around the endpoint


def _special_params(dependant: Dependant) -> bool:
    return any((
        dependant.websocket_param_name, dependant.http_connection_param_name,
        dependant.background_tasks_param_name, dependant.security_scopes_param_name,
        dependant.body_params, dependant.cookie_params, dependant.own_oauth_scopes,
        dependant.concurrency is not None,
    ))


def _provider(dependant: Dependant) -> _Provider | None:
    """A dependency of the shape `async def get_x(request: Request)` (or no parameters), or
    the same as an async generator with scope="function"."""
    call = dependant.call
    if (
        dependant.name is None or call is None or not dependant.use_cache
        or dependant.dependencies or dependant.path_params or dependant.query_params
        or dependant.header_params or dependant.response_param_name
        or _special_params(dependant)
    ):
        return None
    takes_request = dependant.request_param_name is not None
    if inspect.isasyncgenfunction(call):
        if dependant.scope != "function":
            return None  # exits after the response is sent: FastAPI's request stack
        return _Provider(dependant.name, asynccontextmanager(call), takes_request, True)
    if inspect.iscoroutinefunction(call):
        return _Provider(dependant.name, call, takes_request, False)
    return None


class _ShieldedExit:
    """A yield dependency's context manager whose exit a cancellation cannot cut short, as
    FastAPI protects it. The shield (an anyio cancel scope, ~15 us of a request) is raised
    when the request is being cancelled (the exit runs because of it, or one is pending):
    a teardown that starts while the task is not being cancelled runs as it is."""

    __slots__ = ("cm",)

    def __init__(self, cm: Any) -> None:
        self.cm = cm

    async def __aenter__(self) -> Any:
        return await self.cm.__aenter__()

    async def __aexit__(self, *exc: Any) -> bool:
        task = asyncio.current_task()
        if isinstance(exc[1], asyncio.CancelledError) or (task is not None and task.cancelling()):
            with CancelScope(shield=True):
                return bool(await self.cm.__aexit__(*exc))
        return bool(await self.cm.__aexit__(*exc))


def fast_handler(route: Any, standard: Handler) -> Handler | None:
    """The short handler for `route` (APIRoute or an inclusion of it), or None when the route
    needs FastAPI's own."""
    dependant: Dependant = route.dependant
    call = dependant.call
    if (
        call is None or not inspect.iscoroutinefunction(call) or _special_params(dependant)
        or getattr(route, "is_sse_stream", False) or getattr(route, "is_json_stream", False)
        or not isinstance(route.response_class, DefaultPlaceholder)  # FastAPI's fast path too
        or route.response_class.value is not JSONResponse
    ):
        return None
    found = [_provider(sub) for sub in dependant.dependencies]
    providers = [p for p in found if p is not None]
    if (
        len(providers) < len(found)
        or len({p.call for p in providers}) < len(providers)  # FastAPI's cache decides
        or sum(p.generator for p in providers) > 1
    ):
        return None
    overrides = route.dependency_overrides_provider
    output = Output(route)
    request_name, response_name = dependant.request_param_name, dependant.response_param_name
    has_generator = any(p.generator for p in providers)
    only = providers[0] if len(providers) == 1 and has_generator else None

    path_params = Params(dependant.path_params, "path")
    query_params = Params(dependant.query_params, "query")
    header_params = Params(dependant.header_params, "header")

    async def run(request: Request, values: dict[str, Any]) -> Any:
        path, errors = path_params.read(request.path_params)
        values.update(path)
        if query_params.fields:
            query, query_errors = query_params.read(request.query_params)
            values.update(query)
            errors += query_errors
        if header_params.fields:
            headers, header_errors = header_params.read(request.headers)
            values.update(headers)
            errors += header_errors
        if errors:
            raise RequestValidationError(errors)
        if request_name is not None:
            values[request_name] = request
        return await call(**values)

    async def handler(request: Request) -> Response:
        if overrides is not None and overrides.dependency_overrides:
            return await standard(request)  # tests swap dependencies: FastAPI's own way
        sub = None
        values: dict[str, Any] = {}
        if response_name is not None:
            # FastAPI's sub-response: no headers, no status. Made as a 204, which Starlette
            # gives no Content-Length, rather than made and then stripped of one.
            sub = values[response_name] = Response(status_code=204)
            sub.status_code = None  # type: ignore[assignment]
        if not has_generator:
            for p in providers:  # dependencies first, then parameters, as FastAPI does
                values[p.name] = await (p.call(request) if p.takes_request else p.call())
            return output.response(await run(request, values), sub)
        # The response is built inside the dependency's block, as FastAPI does: a response
        # validation error is thrown into the generator too.
        response = None
        if only is not None:  # the one dependency is the generator: no exit stack needed
            made = only.call(request) if only.takes_request else only.call()
            async with _ShieldedExit(made) as value:
                values[only.name] = value
                response = output.response(await run(request, values), sub)
        else:
            async with AsyncExitStack() as stack:
                for p in providers:
                    made = p.call(request) if p.takes_request else p.call()
                    values[p.name] = await (
                        stack.enter_async_context(_ShieldedExit(made)) if p.generator else made
                    )
                response = output.response(await run(request, values), sub)
        if response is None:  # the dependency swallowed the endpoint's exception
            raise FastAPIError("a dependency with yield swallowed the exception; re-raise it")
        return response

    return handler


class FastRoute(APIRoute):
    """APIRoute whose common-shape routes take a shorter handler (see module doc)."""

    def get_route_handler(self) -> Handler:
        standard = super().get_route_handler()
        route = effective_route(self)
        handler = standard if route is None else fast_handler(route, standard) or standard
        # The route as included (its inclusion's dependencies and overrides provider), when
        # FastAPI is building the handler of an inclusion.
        return credentials_first(route or self, handler)

