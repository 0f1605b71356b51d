"""Bearer API keys for writes: compared in constant time, 401 with WWW-Authenticate otherwise."""
from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from fastapi import Depends, Request
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
