"""Rate limiting (issue 5 builds the middleware): routes declare limits, core enforces them.

A route declares its own limit with `@rate_limit(lambda s: s.search_rate_limit)` placed under
its router decorator; every other route gets RATE_LIMIT_DEFAULT; `@no_rate_limit` exempts a
route (health, metrics).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import FastAPI

from .settings import Settings

F = TypeVar("F", bound=Callable[..., Any])
LIMIT_ATTR = "__rate_limit__"
EXEMPT = object()


def rate_limit(choose: Callable[[Settings], str]) -> Callable[[F], F]:
    """Declare this route's limit, chosen from settings when the app starts."""

    def mark(endpoint: F) -> F:
        setattr(endpoint, LIMIT_ATTR, choose)
        return endpoint

    return mark


def no_rate_limit(endpoint: F) -> F:
    setattr(endpoint, LIMIT_ATTR, EXEMPT)
    return endpoint


def install_rate_limits(app: FastAPI, settings: Settings) -> None:
    """Resolve each route's limit once at start-up (enforcement arrives with issue 5)."""
