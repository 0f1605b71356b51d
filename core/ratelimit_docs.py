"""The OpenAPI side of rate limiting: 429 and the X-RateLimit headers on limited operations."""
from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from .errors import ErrorOut

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


def document_limits(app: FastAPI, operations: set[tuple[str, str]]) -> None:
    build = app.openapi  # FastAPI caches the schema; the additions are idempotent

    def openapi() -> dict[str, Any]:
        schema = build()
        _add_429(schema, operations)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
