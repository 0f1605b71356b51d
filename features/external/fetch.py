"""The shared HTTP client and the one way imports fetch: every hop guarded, robots.txt obeyed,
retries with backoff, and caps on body size, redirects and total time."""
from __future__ import annotations

import asyncio
import email.utils
import random
import time
from dataclasses import dataclass
from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpx

from core.headers import header_int

from .errors import TooLarge, UpstreamFailed, UpstreamTimeout
from .guard import Guard, Target
from .robots import MAX_ROBOTS_BYTES, RobotsAnswer, RobotsCache

ROBOTS_AGENT = "articles-service"
USER_AGENT = f"{ROBOTS_AGENT}/1.0 (feed importer; RSS, Atom, JSON Feed)"
ACCEPT = (
    "application/feed+json, application/atom+xml, application/rss+xml, "
    "application/json;q=0.9, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)
REDIRECTS = frozenset({301, 302, 303, 307, 308})
RETRYABLE = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class FetchPolicy:
    timeout: float = 20.0  # one whole fetch: DNS, robots.txt, redirects and retries
    max_bytes: int = 10 * 1024 * 1024  # decoded body, counted while streaming
    max_redirects: int = 5
    attempts: int = 3  # per hop, for 429, 5xx and connection errors
    backoff: float = 0.5  # seconds before the first retry (jittered, doubling)
    robots_ttl: float = 3600.0


@dataclass(frozen=True)
class Validators:
    """What makes a fetch conditional: the last import's ETag and Last-Modified."""

    etag: str | None = None
    last_modified: str | None = None

    def headers(self) -> dict[str, str]:
        sent = {"If-None-Match": self.etag, "If-Modified-Since": self.last_modified}
        return {name: value for name, value in sent.items() if value}


@dataclass(frozen=True)
class Fetched:
    url: httpx.URL  # after redirects
    status: int
    headers: httpx.Headers
    body: bytes = b""

    @property
    def validators(self) -> Validators:
        return Validators(self.headers.get("etag"), self.headers.get("last-modified"))


def make_client(transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
    """The app's one client: keep-alive HTTP/1.1, no redirects, no proxies from the
    environment, no cookies (one user's import must not carry state into another's)."""
    return httpx.AsyncClient(
        headers={"User-Agent": USER_AGENT},
        follow_redirects=False,
        trust_env=False,
        http1=True,
        http2=False,
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=30),
        timeout=httpx.Timeout(10.0, connect=5.0),
        cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
        transport=transport,
    )


class Fetcher:
    """Fetches feeds for imports; holds the client, the guard, the policy and robots rules."""

    def __init__(self, client: httpx.AsyncClient, guard: Guard, policy: FetchPolicy) -> None:
        self.client = client
        self.guard = guard
        self.policy = policy
        self.robots = RobotsCache(self._fetch_robots, ROBOTS_AGENT, policy.robots_ttl)

    async def fetch_feed(self, url: str, validators: Validators) -> Fetched:
        """GET `url` (2xx, or 304 when `validators` matched) or raise an import error."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.policy.timeout
        headers = {"Accept": ACCEPT, **validators.headers()}
        try:
            async with asyncio.timeout_at(deadline):
                fetched = await self._follow(url, headers, self.policy.max_bytes, deadline, True)
        except TimeoutError:
            raise UpstreamTimeout(
                f"{url} took longer than {self.policy.timeout:g} s (retries included)"
            ) from None
        except httpx.HTTPError as exc:
            raise UpstreamFailed(f"{url}: {_describe(exc)}") from None
        if 200 <= fetched.status < 300 or (fetched.status == 304 and validators.headers()):
            return fetched
        raise UpstreamFailed(f"{fetched.url} answered HTTP {fetched.status}")

    async def check_url(self, url: str) -> None:
        """The guard's verdict on `url` (DNS included) within the fetch time cap."""
        try:
            async with asyncio.timeout(self.policy.timeout):
                await self.guard.check(url)
        except TimeoutError:
            limit = self.policy.timeout
            raise UpstreamTimeout(f"resolving {url} took longer than {limit:g} s") from None

    async def _fetch_robots(self, url: httpx.URL) -> RobotsAnswer:
        deadline = asyncio.get_running_loop().time() + self.policy.timeout
        headers = {"Accept": "text/plain"}
        fetched = await self._follow(url, headers, MAX_ROBOTS_BYTES, deadline, False)
        return RobotsAnswer(fetched.status, fetched.body)

    async def _follow(
        self, url: str | httpx.URL, headers: dict[str, str], max_bytes: int,
        deadline: float, obey_robots: bool,
    ) -> Fetched:
        """Follow up to `max_redirects` redirects by hand, checking each hop before connecting."""
        current = httpx.URL(url)
        for _ in range(self.policy.max_redirects + 1):
            target = await self.guard.check(current)
            if obey_robots:
                await self.robots.check(target.url)
            fetched = await self._with_retries(target, headers, max_bytes, deadline)
            location = fetched.headers.get("location")
            if fetched.status not in REDIRECTS or not location:
                return fetched
            try:
                current = target.url.join(location)
            except httpx.InvalidURL:
                raise UpstreamFailed(f"{target.url} redirects to an invalid URL") from None
        raise UpstreamFailed(f"{url}: more than {self.policy.max_redirects} redirects")

    async def _with_retries(
        self, target: Target, headers: dict[str, str], max_bytes: int, deadline: float
    ) -> Fetched:
        loop = asyncio.get_running_loop()
        policy = self.policy
        for attempt in range(1, policy.attempts + 1):
            try:
                fetched = await self._once(target, headers, max_bytes)
            except (httpx.TransportError, httpx.DecodingError) as exc:
                failure, wait = _describe(exc), None
            else:
                if fetched.status not in RETRYABLE:
                    return fetched
                failure, wait = f"HTTP {fetched.status}", retry_after(fetched.headers)
            if attempt == policy.attempts:
                break
            if wait is None:
                step = policy.backoff * 2 ** (attempt - 1)
                wait = step / 2 + random.uniform(0, step / 2)
            if loop.time() + wait >= deadline:
                raise UpstreamFailed(
                    f"{target.url}: {failure}; waiting {wait:.1f} s to retry would pass "
                    f"the {policy.timeout:g} s limit"
                )
            await asyncio.sleep(wait)
        raise UpstreamFailed(f"{target.url}: {failure} after {policy.attempts} attempts")

    async def _once(self, target: Target, headers: dict[str, str], max_bytes: int) -> Fetched:
        request = self.client.build_request(
            "GET", target.request_url, headers={**headers, **target.headers},
            extensions=target.extensions,
        )
        response = await self.client.send(request, stream=True)
        try:
            if not 200 <= response.status_code < 300:
                return Fetched(target.url, response.status_code, response.headers)
            return Fetched(
                target.url, response.status_code, response.headers,
                await _read_capped(response, max_bytes, target.url),
            )
        finally:
            await response.aclose()


async def _read_capped(response: httpx.Response, max_bytes: int, url: httpx.URL) -> bytes:
    """The decoded body, refused as soon as it passes `max_bytes` (never held whole first)."""
    declared = header_int(response.headers.get("content-length", ""))
    if declared is not None and declared > max_bytes:
        raise TooLarge(f"{url} is {declared} bytes, more than the {max_bytes} allowed")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise TooLarge(f"{url} sends more than the {max_bytes} bytes allowed")
        chunks.append(chunk)
    return b"".join(chunks)


def retry_after(headers: httpx.Headers) -> float | None:
    """Seconds the server asks us to wait (delta-seconds or an HTTP date), or None."""
    value = headers.get("retry-after", "").strip()
    if not value:
        return None
    seconds = header_int(value)
    if seconds is not None:
        return float(seconds)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _describe(exc: httpx.HTTPError) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
