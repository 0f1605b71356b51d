"""`LeanRoute`: FastAPI's APIRoute with a direct handler for routes that need nothing more.

FastAPI's request handler is general: it reads bodies and forms, solves a dependency tree
(building a Response, query, header and cookie objects per level, whether or not a route has
such parameters), and serialises a response model. For a read route that takes path, query or
header parameters plus plain `async def get_x(request)` dependencies and returns a `Response`
itself, all of that is about 40 % of a request's CPU. `LeanRoute.get_route_handler` (FastAPI's
documented hook for custom route classes) gives such routes a handler that awaits the
dependencies, validates the parameters as FastAPI does (`field.validate` and its missing-field
error; anything unusual through FastAPI's `request_params_to_args`: the same 422 items), and
calls the endpoint. Everything else (OpenAPI, routing, exception handlers, the rate limiter's
wrapper) is FastAPI's and unchanged. Any route outside that shape gets FastAPI's own handler
(as does an included route while `app.dependency_overrides` is in use; routes joined by
ServiceApp take no overrides, see core/service_app.py).
"""
from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from copy import deepcopy
from dataclasses import dataclass
from typing import Any, get_type_hints

from fastapi import routing as fastapi_routing
from fastapi._compat import ModelField, get_missing_field_error
from fastapi.dependencies import utils as dependency_utils
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import request_params_to_args
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette._exception_handler import wrap_app_handling_exceptions
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


@dataclass(frozen=True, slots=True)
class _Provider:
    name: str
    call: Callable[..., Awaitable[Any]]
    takes_request: bool


def _plain_provider(dependant: Dependant) -> _Provider | None:
    """A dependency of the shape `async def get_x(request: Request)` (or no parameters)."""
    call = dependant.call
    if (
        dependant.name is None
        or call is None
        or not inspect.iscoroutinefunction(call)
        or dependant.dependencies
        or dependant.path_params
        or dependant.query_params
        or dependant.header_params
        or dependant.cookie_params
        or dependant.body_params
        or dependant.own_oauth_scopes
        or dependant.concurrency is not None  # Depends(max_concurrency=...): FastAPI's semaphore
        or _special_params(dependant)
    ):
        return None
    return _Provider(dependant.name, call, dependant.request_param_name is not None)


@dataclass(frozen=True, slots=True)
class _Scalar:
    """One path or query parameter with a single name in the request and a scalar type."""

    field: ModelField
    key: str
    loc: tuple[str, str]
    required: bool
    validate_default: bool


class _Params:
    """Reads and validates a route's path or query parameters.

    FastAPI's `request_params_to_args` works out, for every field on every request, whether it
    is a sequence, a model or has several aliases (3.4 us for one int path parameter, 8.4 us
    for two defaulted query parameters). Here that is settled once: scalar fields with one
    request name are read directly and validated with the same `field.validate` and the same
    "missing" error as FastAPI; anything else goes through FastAPI's function.
    """

    def __init__(self, fields: Sequence[ModelField]) -> None:
        self.fields = fields
        scalars = [_scalar(field) for field in fields]
        self.scalars: list[_Scalar] | None = (
            None if any(s is None for s in scalars) else [s for s in scalars if s is not None]
        )

    def read(self, received: Mapping[str, Any]) -> tuple[dict[str, Any], list[Any]]:
        if self.scalars is None:
            return request_params_to_args(self.fields, received)
        values: dict[str, Any] = {}
        errors: list[Any] = []
        for param in self.scalars:
            raw = received.get(param.key)
            if raw is None:
                if param.required:
                    errors.append(get_missing_field_error(loc=param.loc))
                    continue
                default = deepcopy(param.field.default)
                if not param.validate_default:
                    values[param.field.name] = default
                    continue
                raw = default
            value, field_errors = param.field.validate(raw, values, loc=param.loc)
            if field_errors:
                errors.extend(field_errors)
            else:
                values[param.field.name] = value
        return values, errors


# FastAPI's own answers to "several request names?", "a JSON field?", "a parameter model?";
# private, so a FastAPI without them sends every field through request_params_to_args.
_ALIASES = getattr(dependency_utils, "_get_param_aliases", None)
_IS_JSON = getattr(dependency_utils, "_is_json_field", None)
_PARAM_MODEL = getattr(dependency_utils, "_get_param_model", None)


def _scalar(field: ModelField) -> _Scalar | None:
    info = field.field_info
    where = getattr(getattr(info, "in_", None), "value", None)
    if (
        _ALIASES is None or _IS_JSON is None or _PARAM_MODEL is None
        or where not in ("path", "query")
        or _IS_JSON(field)
        or dependency_utils.field_annotation_is_sequence(info.annotation)
        or _PARAM_MODEL(field) is not None
    ):
        return None
    pairs = _ALIASES(field)
    if len(pairs) != 1:
        return None
    key = pairs[0][1]
    return _Scalar(field, key, (where, key), info.is_required(), bool(info.validate_default))


def _special_params(dependant: Dependant) -> bool:
    return any((
        dependant.websocket_param_name, dependant.http_connection_param_name,
        dependant.response_param_name, dependant.background_tasks_param_name,
        dependant.security_scopes_param_name,
    ))


def _returns_response(call: Callable[..., Any]) -> bool:
    try:
        returned = get_type_hints(call).get("return")
    except (NameError, TypeError):
        return False
    return isinstance(returned, type) and issubclass(returned, Response)


def lean_handler(dependant: Dependant, standard: Handler, overrides: Any) -> Handler | None:
    """The direct handler for `dependant`, or None when the route needs FastAPI's own."""
    call = dependant.call
    if (
        call is None
        or not inspect.iscoroutinefunction(call)
        or not _returns_response(call)
        or dependant.body_params
        or dependant.cookie_params
        or _special_params(dependant)
    ):
        return None
    providers = [_plain_provider(sub) for sub in dependant.dependencies]
    if any(p is None for p in providers):
        return None
    plain = [p for p in providers if p is not None]
    if len({p.call for p in plain}) < len(plain):
        return None  # one dependency used twice: FastAPI's per-request cache decides

    request_name = dependant.request_param_name
    path_params, query_params = _Params(dependant.path_params), _Params(dependant.query_params)
    header_fields = dependant.header_params

    async def handler(request: Request) -> Response:
        if overrides is not None and overrides.dependency_overrides:
            return await standard(request)  # tests may swap dependencies: FastAPI's way
        # Dependencies first, then parameters, as FastAPI does: an error a dependency raises
        # wins over a 422.
        solved = {
            provider.name: await (
                provider.call(request) if provider.takes_request else provider.call()
            )
            for provider in plain
        }
        values, errors = path_params.read(request.path_params)
        if query_params.fields:
            query, query_errors = query_params.read(request.query_params)
            values.update(query)
            errors += query_errors
        if header_fields:
            headers, header_errors = request_params_to_args(header_fields, request.headers)
            values.update(headers)
            errors += header_errors
        if errors:
            raise RequestValidationError(errors)
        values.update(solved)
        if request_name is not None:
            values[request_name] = request
        response = await call(**values)
        if not isinstance(response, Response):
            raise TypeError(f"{call.__qualname__} is annotated to return a Response")
        return response

    return handler


def _effective(route: APIRoute) -> tuple[Dependant, Any] | None:
    """The dependant and overrides provider (the app) FastAPI uses for this inclusion of the
    route: an included router may add dependencies. None when this FastAPI does not tell."""
    context_var = getattr(fastapi_routing, "_effective_route_context_var", None)
    if context_var is None:
        return None
    context = context_var.get()
    if context is None or getattr(context, "original_route", None) is not route:
        return route.dependant, route.dependency_overrides_provider
    dependant = getattr(context, "dependant", None)
    if not isinstance(dependant, Dependant):
        return None
    return dependant, getattr(context, "dependency_overrides_provider", None)


def _direct_app(handler: Handler) -> ASGIApp:
    """The route's ASGI app around a lean handler: FastAPI's `request_response` without its two
    exit stacks (for `yield` dependencies, which lean routes do not have). Errors are mapped
    here, inside the route, as Starlette does, so what wraps the route (the rate limiter's
    X-RateLimit headers) applies to error answers too."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)

        async def respond(scope: Scope, receive: Receive, send: Send) -> None:
            response = await handler(request)
            await response(scope, receive, send)

        await wrap_app_handling_exceptions(respond, request)(scope, receive, send)

    return app


class LeanRoute(APIRoute):
    """APIRoute whose simple read routes skip the general request handler (see module doc)."""

    _lean: Handler | None = None

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        if self._lean is not None and self.max_body_size is None:
            self.app = _direct_app(self._lean)

    def get_route_handler(self) -> Handler:
        standard = super().get_route_handler()
        effective = _effective(self)
        if effective is None:
            return standard
        dependant, overrides = effective
        lean = lean_handler(dependant, standard, overrides)
        if lean is None:
            return standard
        if dependant is self.dependant and overrides is None:
            self._lean = lean  # no fallback to FastAPI's handler possible: no exit stacks needed
        return lean
