"""Search's errors; a bad cursor is a 422 in the shape of every other validation error."""
from __future__ import annotations

from fastapi.exceptions import RequestValidationError


class InvalidCursor(RequestValidationError):
    """The cursor was not made by this service for this query (edited, truncated or reused)."""

    def __init__(self) -> None:
        super().__init__(
            [{"loc": ("query", "cursor"), "msg": "Invalid cursor", "type": "value_error"}]
        )
