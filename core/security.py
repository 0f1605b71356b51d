"""Bearer API keys for writes: compared in constant time, 401 with WWW-Authenticate otherwise."""
from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from .errors import AppError

_bearer = HTTPBearer(auto_error=False, description="A write key from API_KEYS")


class NotAuthenticated(AppError):
    status_code = 401
    detail = "Missing or invalid API key"

    def __init__(self) -> None:
        super().__init__(headers={"WWW-Authenticate": "Bearer"})


def digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def key_digests(keys: list[str]) -> tuple[bytes, ...]:
    """Computed once at start-up; only digests stay in memory for comparison."""
    return tuple(digest(k) for k in keys)


async def require_write_key(  # async: a sync dependency would hop to a worker thread
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """Allow the request only with a known bearer key; every key is compared (no early exit).
    Two Authorization headers are refused: which one a proxy or framework reads is not ours to
    guess (here the first would win, so a good key followed by a bad one would write)."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise NotAuthenticated
    if len(request.headers.getlist("authorization")) > 1:
        raise NotAuthenticated
    offered = digest(credentials.credentials)
    known: tuple[bytes, ...] = request.app.state.key_digests
    matched = False
    for candidate in known:
        matched |= hmac.compare_digest(offered, candidate)
    if not matched:
        raise NotAuthenticated
    return offered.hex()[:8]  # a key fingerprint, safe to log


WriteKey = Annotated[str, Depends(require_write_key)]

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def credentials_first(route: APIRoute, handler: Handler) -> Handler:
    """Wrap the handler of a route that needs a write key so the key is checked before the
    body is read and parsed: an anonymous client learns 401, not how its JSON was wrong, and
    the service does not parse bodies for strangers. The route's own dependency still runs
    (and is what `app.dependency_overrides[require_write_key]` replaces: with an override in
    place, this early check steps aside)."""
    if not _needs(route.dependant, require_write_key):
        return handler

    async def checked(request: Request) -> Response:
        overrides = getattr(route.dependency_overrides_provider, "dependency_overrides", None)
        if not overrides or require_write_key not in overrides:
            await require_write_key(request, await _bearer(request))
        return await handler(request)

    return checked


def _needs(dependant: Dependant, call: Callable[..., Any]) -> bool:
    return any(d.call is call or _needs(d, call) for d in dependant.dependencies)
