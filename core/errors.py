"""Domain errors and their one mapping to HTTP: every error body is {"detail", "request_id"}."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import Scope

log = structlog.get_logger(__name__)


class AppError(Exception):
    """Base for domain errors; features subclass it and set status_code and detail."""

    status_code: int = 400
    detail: str = "Bad request"
    headers: dict[str, str] | None = None

    def __init__(self, detail: str | None = None, headers: dict[str, str] | None = None) -> None:
        if detail is not None:
            self.detail = detail
        if headers is not None:
            self.headers = headers
        super().__init__(self.detail)


class DatabaseUnavailable(AppError):
    status_code = 503
    detail = "Database unavailable, retry shortly"

    def __init__(self, retry_after: int = 1) -> None:
        super().__init__(headers={"Retry-After": str(retry_after)})


class ErrorOut(BaseModel):
    detail: str
    request_id: str


class ValidationItem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorOut(BaseModel):
    detail: list[ValidationItem]
    request_id: str


_DESCRIPTIONS = {
    304: "Not modified",
    400: "Bad request",
    401: "Missing or wrong API key",
    403: "Forbidden",
    404: "Not found",
    409: "Conflict",
    412: "Precondition failed: If-Match is stale",
    413: "Request body too large",
    422: "Validation error",
    429: "Too many requests",
    500: "Server error",
    502: "Upstream failure",
    503: "Service unavailable, retry later",
    504: "Upstream timeout",
}


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` for the error codes a route can return."""
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        entry: dict[str, Any] = {"description": _DESCRIPTIONS.get(code, "Error")}
        if code != 304:
            entry["model"] = ValidationErrorOut if code == 422 else ErrorOut
        out[code] = entry
    return out


def request_id_of(scope: Scope) -> str:
    return str(scope.get("state", {}).get("request_id", ""))


def error_response(
    scope: Scope, status: int, detail: Any, headers: Mapping[str, str] | None = None
) -> Response:
    body = orjson.dumps({"detail": detail, "request_id": request_id_of(scope)})
    return Response(body, status, headers=headers, media_type="application/json")


async def _app_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AppError)
    return error_response(request.scope, exc.status_code, exc.detail, exc.headers)


_UNPARSABLE_WHY = {
    UnicodeDecodeError: "Body is not valid UTF-8 JSON",
    RecursionError: "Body JSON is nested too deeply",
}
_UNPARSABLE = tuple(_UNPARSABLE_WHY)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 400 and isinstance(exc.__cause__, _UNPARSABLE):
        # FastAPI answers 422 json_invalid for malformed JSON but 400 (declared nowhere) when the
        # bytes are not even UTF-8 or nest deeper than the parser goes; all are the same client
        # mistake, so all are 422.
        why = next(m for cls, m in _UNPARSABLE_WHY.items() if isinstance(exc.__cause__, cls))
        invalid = [{"loc": ["body"], "msg": why, "type": "json_invalid"}]
        return error_response(request.scope, 422, invalid)
    if exc.status_code in (204, 304):
        return Response(status_code=exc.status_code, headers=exc.headers)
    headers = exc.headers
    if exc.status_code == 405:
        headers = {**(headers or {}), "Allow": _allowed_methods(request, headers or {})}
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    return error_response(request.scope, exc.status_code, detail, headers)


def _allowed_methods(request: Request, headers: Mapping[str, str]) -> str:
    """Every method some route serves at this path (RFC 9110 15.5.6). Starlette's 405 names
    only the methods of the first route whose path matched, and each FastAPI route has one."""
    methods = {m.strip() for m in headers.get("Allow", "").split(",") if m.strip()}
    scope = {**request.scope, "method": "\x00"}  # matches no method: path-only matching
    for route in request.app.router.routes:
        match, child = route.matches(scope)
        if match is not Match.NONE:
            methods |= set(getattr(child.get("route", route), "methods", None) or ())
    return ", ".join(sorted(methods))


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    detail = [
        {"loc": list(err.get("loc", ())), "msg": str(err.get("msg", "")), "type": err.get("type")}
        for err in exc.errors()
    ]
    return error_response(request.scope, 422, detail)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
