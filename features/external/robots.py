"""robots.txt per origin, parsed with Protego and kept for a while (RFC 9309 semantics)."""
from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
from protego import Protego

from .errors import RobotsDisallowed, UpstreamFailed

MAX_ROBOTS_BYTES = 512 * 1024  # RFC 9309: parse at least 500 KiB
Origin = tuple[str, str, int | None]


@dataclass(frozen=True)
class RobotsAnswer:
    status: int
    body: bytes


RobotsFetch = Callable[[httpx.URL], Awaitable[RobotsAnswer]]


class RobotsCache:
    """Answers "may `agent` fetch this URL?", fetching each origin's robots.txt at most once
    per `ttl` seconds. Unreachable robots.txt (5xx, network) is not cached and refuses."""

    def __init__(self, fetch: RobotsFetch, agent: str, ttl: float, max_origins: int = 1024) -> None:
        self._fetch = fetch
        self._agent = agent
        self._ttl = ttl
        self._max = max_origins
        self._rules: dict[Origin, tuple[float, Protego | None]] = {}

    async def check(self, url: httpx.URL) -> None:
        """Return when `url` may be fetched, else raise RobotsDisallowed (or UpstreamFailed)."""
        rules = await self._rules_for(url)
        if rules is not None and not rules.can_fetch(str(url), self._agent):
            raise RobotsDisallowed(
                f"robots.txt of {_origin_text(url)} disallows {url.raw_path.decode()} "
                f"for {self._agent}"
            )

    async def _rules_for(self, url: httpx.URL) -> Protego | None:
        origin: Origin = (url.scheme, url.raw_host.decode("ascii"), url.port)
        cached = self._rules.get(origin)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        answer = await self._fetch(url.copy_with(raw_path=b"/robots.txt", fragment=None))
        rules = _interpret(answer, url)
        if len(self._rules) >= self._max:
            self._rules.pop(next(iter(self._rules)))
        self._rules[origin] = (time.monotonic() + self._ttl, rules)
        return rules


def _interpret(answer: RobotsAnswer, url: httpx.URL) -> Protego | None:
    """Rules to obey; None allows everything (RFC 9309: 4xx means no restrictions)."""
    if 200 <= answer.status < 300:
        return Protego.parse(answer.body.decode("utf-8", errors="replace"))
    if 400 <= answer.status < 500:
        return None
    # RFC 9309 2.3.1.4: an unreachable robots.txt means complete disallow, for now.
    raise UpstreamFailed(
        f"robots.txt of {_origin_text(url)} is unreachable (HTTP {answer.status}); not fetching"
    )


def _origin_text(url: httpx.URL) -> str:
    return f"{url.scheme}://{url.netloc.decode('ascii')}"
