"""Why an import did not happen; core renders each as JSON, `outcome` names it for logs/metrics."""
from __future__ import annotations

from fastapi.exceptions import RequestValidationError

from core.errors import AppError


class ImportRefused(RequestValidationError):
    """422: the URL, or what it serves, is not something we import (the body says why).

    A RequestValidationError so that the body has the contract's 422 shape
    (`detail: [{loc, msg, type}]`) and core's one mapping renders it.
    """

    outcome = "refused"
    kind = "refused"

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__([{"loc": ["body", "url"], "msg": reason, "type": self.kind}])

    def __str__(self) -> str:
        return self.reason


class UnsafeUrl(ImportRefused):
    kind = "unsafe_url"


class RobotsDisallowed(ImportRefused):
    kind = "robots_disallowed"


class NotAFeed(ImportRefused):
    kind = "not_a_feed"


class UnsafeXml(ImportRefused):
    """An XML bomb or an external entity: refused before any parser expands it."""

    kind = "unsafe_xml"


class TooLarge(ImportRefused):
    kind = "too_large"


class UpstreamFailed(AppError):
    status_code = 502
    detail = "Upstream failure"
    outcome = "upstream_error"


class UpstreamTimeout(AppError):
    status_code = 504
    detail = "Upstream timeout"
    outcome = "timeout"


class FeedNotFound(AppError):
    status_code = 404
    detail = "Feed not found"


class FeedAlreadyRegistered(AppError):
    status_code = 409
    detail = "Feed already registered"


ImportFailure = ImportRefused | UpstreamFailed | UpstreamTimeout
