"""Articles' domain errors; core maps them to HTTP once."""
from __future__ import annotations

from fastapi.exceptions import RequestValidationError

from core.errors import AppError


class ArticleNotFound(AppError):
    status_code = 404
    detail = "Article not found"

    def __init__(self) -> None:
        super().__init__()


class SlugTaken(AppError):
    status_code = 409
    detail = "Slug already taken"

    def __init__(self) -> None:
        super().__init__()


class PreconditionFailed(AppError):
    status_code = 412
    detail = "Article has changed since the ETag in If-Match was issued"

    def __init__(self) -> None:
        super().__init__()


class BadCursor(RequestValidationError):
    """422 in the same {loc, msg, type} shape as every other validation error."""

    def __init__(self) -> None:
        super().__init__(
            [{"loc": ("query", "cursor"), "msg": "Invalid cursor", "type": "value_error"}]
        )
