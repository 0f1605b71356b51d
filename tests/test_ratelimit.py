"""The rate limiter against real Redis: budgets, headers, client identity, sharing, outages."""
from __future__ import annotations

import asyncio
import gc
import ipaddress
import os
import random
import signal
import threading
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import httpx
import limits.storage
import limits.strategies
import pytest
from fastapi import APIRouter, FastAPI
from limits.aio.strategies import FixedWindowRateLimiter
from pydantic import BaseModel
from structlog.testing import capture_logs
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from core.clients import client_key
from core.compat import MemorySweeper
from core.db import Pool
from core.ratelimit import RETRY_STORAGE_EVERY, RateLimiter, install_rate_limits, rate_limit

ORIGIN = "https://app.example.org"


class Payload(BaseModel):
    name: str


def random_v4() -> str:
    """A fresh client in 198.18.0.0/15, so runs on a shared Redis never meet old counters."""
    return str(ipaddress.IPv4Address(0xC612_0000 + random.getrandbits(17)))


def random_v6_prefix() -> str:
    return f"2001:db8:{random.getrandbits(16):x}:{random.getrandbits(15):x}"


def probe_routes(prefix: str) -> Callable[[FastAPI], None]:
    """/hit declares SEARCH_RATE_LIMIT (as search does); the others take RATE_LIMIT_DEFAULT."""

    def hook(app: FastAPI) -> None:
        router = APIRouter(prefix=prefix)

        @router.get("/hit")
        @rate_limit(lambda s: s.search_rate_limit)
        async def hit() -> dict[str, bool]:
            return {"ok": True}

        @router.get("/plain")
        async def plain() -> dict[str, bool]:
            return {"ok": True}

        @router.get("/db")
        async def with_db(db: Pool) -> dict[str, bool]:
            async with db.connection() as conn:
                await conn.execute("SELECT 1")
            return {"ok": True}

        @router.post("/echo")
        async def echo(payload: Payload) -> Payload:
            return payload

        app.include_router(router)

    return hook


@pytest.fixture
def make_settings_for_limits(pg_url: str) -> Callable[..., Any]:
    from conftest import make_settings

    return lambda **overrides: make_settings(pg_url, **overrides)


@pytest.fixture
def prefix(unique: str) -> str:
    return f"/_rl/{unique}"


@pytest.fixture
def limited(make_client, redis_url, prefix):
    """A client on the probe routes, sharing `redis_url`; overrides pass through."""

    async def factory(peer: str | None = None, **overrides: Any):
        overrides.setdefault("rate_limit_storage_url", redis_url)
        return await make_client(
            peer=peer or random_v4(), app_hook=probe_routes(prefix), **overrides
        )

    return factory


async def spend(client, path: str, times: int, **kwargs: Any) -> None:
    for _ in range(times):
        response = await client.get(path, **kwargs)
        assert response.status_code == 200, response.text


async def test_ten_a_minute_then_429_with_headers_body_and_cors(limited, prefix):
    client = await limited(cors_origins=[ORIGIN])
    for expected_remaining in range(9, -1, -1):
        response = await client.get(f"{prefix}/hit", headers={"Origin": ORIGIN})
        assert response.status_code == 200
        assert response.headers["x-ratelimit-limit"] == "10"
        assert response.headers["x-ratelimit-remaining"] == str(expected_remaining)
        assert 0 < int(response.headers["x-ratelimit-reset"]) - time.time() <= 61
    refused = await client.get(f"{prefix}/hit", headers={"Origin": ORIGIN})
    assert refused.status_code == 429
    assert refused.json() == {
        "detail": "Too many requests", "request_id": refused.headers["x-request-id"],
    }
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["x-ratelimit-limit"] == "10"
    assert refused.headers["x-ratelimit-remaining"] == "0"
    assert refused.headers["access-control-allow-origin"] == ORIGIN
    assert "retry-after" in refused.headers["access-control-expose-headers"].lower()


async def test_search_gives_ten_a_minute_then_429(make_client, redis_url, unique):
    client = await make_client(peer=random_v4(), rate_limit_storage_url=redis_url)
    for _ in range(10):
        response = await client.get("/search", params={"q": unique})
        assert response.status_code == 200
        assert response.headers["x-ratelimit-limit"] == "10"
    refused = await client.get("/search", params={"q": unique})
    assert refused.status_code == 429
    assert refused.headers["x-ratelimit-remaining"] == "0"
    assert int(refused.headers["retry-after"]) >= 1


async def test_memory_storage_limits_too(limited, prefix):
    client = await limited(rate_limit_storage_url="memory://", search_rate_limit="3/minute")
    await spend(client, f"{prefix}/hit", 3)
    assert (await client.get(f"{prefix}/hit")).status_code == 429


async def test_undeclared_routes_get_the_default_limit_each(limited, prefix):
    client = await limited(rate_limit_default="2/minute")
    await spend(client, f"{prefix}/plain", 2)
    response = await client.get(f"{prefix}/plain")
    assert response.status_code == 429
    assert response.headers["x-ratelimit-limit"] == "2"
    hit = await client.get(f"{prefix}/hit")  # declares its own limit, so its own budget
    assert hit.status_code == 200
    assert hit.headers["x-ratelimit-limit"] == "10"


async def test_health_is_never_limited(limited):
    client = await limited(rate_limit_default="1/minute", search_rate_limit="1/minute")
    for _ in range(5):
        for path in ("/health/live", "/health/ready"):
            response = await client.get(path)
            assert response.status_code == 200
            assert "x-ratelimit-limit" not in response.headers


async def test_spoofed_forwarded_for_from_untrusted_peer_changes_nothing(limited, prefix):
    client = await limited(trusted_proxies=["10.0.0.0/8"])
    await spend(client, f"{prefix}/hit", 10)
    for _ in range(5):
        spoofed = {"X-Forwarded-For": f"{random_v4()}, {random_v4()}"}
        assert (await client.get(f"{prefix}/hit", headers=spoofed)).status_code == 429


async def test_trusted_proxy_header_separates_clients(limited, prefix):
    client = await limited(peer="10.1.2.3", trusted_proxies=["10.0.0.0/8"])
    alice, bob = random_v4(), random_v4()
    await spend(client, f"{prefix}/hit", 10, headers={"X-Forwarded-For": alice})
    for chain in (alice, f"{alice}, 10.9.9.9", f"{bob}, {alice}"):  # the last: alice spoofing
        response = await client.get(f"{prefix}/hit", headers={"X-Forwarded-For": chain})
        assert response.status_code == 429, chain
    response = await client.get(f"{prefix}/hit", headers={"X-Forwarded-For": bob})
    assert response.status_code == 200
    assert response.headers["x-ratelimit-remaining"] == "9"


async def test_ipv6_clients_share_their_64(limited, prefix):
    net = random_v6_prefix()
    first = await limited(peer=f"{net}::1", rate_limit_default="2/minute")
    await spend(first, f"{prefix}/plain", 2)
    neighbour = await limited(peer=f"{net}:ffff:1:2:3", rate_limit_default="2/minute")
    assert (await neighbour.get(f"{prefix}/plain")).status_code == 429
    other = await limited(peer=f"{random_v6_prefix()}::1", rate_limit_default="2/minute")
    assert (await other.get(f"{prefix}/plain")).status_code == 200


async def test_two_instances_on_one_redis_share_one_budget(limited, prefix):
    peer = random_v4()
    one, two = await limited(peer=peer), await limited(peer=peer)
    assert one.app is not two.app
    await spend(one, f"{prefix}/hit", 5)
    await spend(two, f"{prefix}/hit", 5)
    assert (await one.get(f"{prefix}/hit")).status_code == 429
    assert (await two.get(f"{prefix}/hit")).status_code == 429


def storage_events(logs: list[dict[str, Any]], event: str) -> list[dict[str, Any]]:
    return [entry for entry in logs if entry["event"] == event]


async def test_redis_stopped_fails_open_with_one_warning_then_limiting_resumes(
    limited, prefix, own_redis
):
    client = await limited(rate_limit_storage_url=own_redis.url)
    await spend(client, f"{prefix}/hit", 2)
    own_redis.stop()
    with capture_logs() as logs:
        # Cover several probe intervals, so a warning per probe (or per request) would show.
        deadline = time.monotonic() + 2.5 * RETRY_STORAGE_EVERY
        served = 0
        while time.monotonic() < deadline:
            started = time.monotonic()
            response = await asyncio.wait_for(client.get(f"{prefix}/hit"), 5)
            assert response.status_code == 200
            assert time.monotonic() - started < 1.0
            assert "x-ratelimit-limit" not in response.headers
            served += 1
            await asyncio.sleep(0.02)  # poll interval, not synchronisation
        assert served > 10  # more than the budget: nothing was limited
        warnings = storage_events(logs, "rate_limit_storage_unavailable")
        assert len(warnings) == 1
        assert warnings[0]["log_level"] == "warning"

        own_redis.start()
        deadline = time.monotonic() + 15
        while (await client.get(f"{prefix}/hit")).status_code != 429:
            assert time.monotonic() < deadline, "limiting did not resume"
            await asyncio.sleep(0.02)
    assert len(storage_events(logs, "rate_limit_storage_recovered")) == 1
    assert len(storage_events(logs, "rate_limit_storage_unavailable")) == 1


async def test_hung_redis_fails_open_within_the_bounded_timeout(limited, prefix, own_redis):
    client = await limited(rate_limit_storage_url=own_redis.url, rate_limit_storage_timeout=0.2)
    await spend(client, f"{prefix}/hit", 1)  # connection established, then the server freezes
    with capture_logs() as logs:
        own_redis.process.send_signal(signal.SIGSTOP)
        try:
            started = time.monotonic()
            response = await asyncio.wait_for(client.get(f"{prefix}/hit"), 5)
            elapsed = time.monotonic() - started
        finally:
            own_redis.process.send_signal(signal.SIGCONT)
        assert response.status_code == 200
        assert "x-ratelimit-limit" not in response.headers
        assert elapsed < 1.0
        # One slow answer is not an outage: the next request is limited again, nothing warned.
        after = await client.get(f"{prefix}/hit")
        assert after.headers["x-ratelimit-limit"] == "10"
    assert storage_events(logs, "rate_limit_storage_unavailable") == []


async def test_429_takes_no_database_connection(limited, prefix):
    client = await limited(
        rate_limit_default="1/minute", db_pool_min_size=1, db_pool_max_size=1, db_pool_timeout=5
    )
    await spend(client, f"{prefix}/db", 1)
    async with client.app.state.pool.connection():  # the pool's only connection is busy
        started = time.monotonic()
        response = await client.get(f"{prefix}/db")
        assert response.status_code == 429  # not 503 after waiting out the pool timeout
        assert time.monotonic() - started < 2.5


async def test_429_reads_no_body(limited, prefix):
    peer = random_v4()
    client = await limited(peer=peer, rate_limit_default="1/minute")
    assert (await client.post(f"{prefix}/echo", json={"name": "x"})).status_code == 200
    received: list[dict[str, Any]] = []
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        received.append({})
        return {"type": "http.request", "body": b'{"name": "x"}', "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    path = f"{prefix}/echo"
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
        "query_string": b"", "client": (peer, 1234), "server": ("testserver", 80),
        "headers": [(b"host", b"testserver"), (b"content-type", b"application/json"),
                    (b"content-length", b"13")],
    }
    await client.app(scope, receive, send)
    assert sent[0]["status"] == 429
    assert received == []


async def test_openapi_lists_429_on_limited_routes_only(limited, prefix):
    client = await limited()
    paths = (await client.get("/openapi.json")).json()["paths"]
    hit = paths[f"{prefix}/hit"]["get"]["responses"]
    assert "Retry-After" in hit["429"]["headers"]
    assert hit["429"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorOut")
    assert "X-RateLimit-Remaining" in hit["200"]["headers"]
    assert "schema" in hit["200"]["content"]["application/json"]
    assert "429" not in paths["/health/live"]["get"]["responses"]


async def test_each_429_reaches_the_reject_hook_with_the_route_template(limited, prefix):
    client = await limited(rate_limit_default="2/minute")
    rejected: list[str] = []
    # Installing again (as a second start-up would) re-wraps rather than stacking limiters.
    install_rate_limits(client.app, client.app.state.settings, on_reject=rejected.append)
    await spend(client, f"{prefix}/plain", 2)
    assert (await client.get(f"{prefix}/plain")).status_code == 429
    assert rejected == [f"{prefix}/plain"]


async def test_limiter_can_be_turned_off(limited, prefix):
    client = await limited(rate_limit_enabled=False, rate_limit_default="1/minute")
    for _ in range(3):
        response = await client.get(f"{prefix}/plain")
        assert response.status_code == 200
        assert "x-ratelimit-limit" not in response.headers


TRUSTED = ["10.0.0.0/8", "fd00::/8"]


async def key_behind_proxies(peer: str | None, *forwarded: str) -> str:
    """The key a request gets after uvicorn's ProxyHeadersMiddleware, as the app installs it."""
    seen: dict[str, Any] = {}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen["key"] = client_key(scope)

    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
    scope = {"type": "http", "client": (peer, 1) if peer else None, "headers": headers}
    await ProxyHeadersMiddleware(app, trusted_hosts=TRUSTED)(scope, None, None)  # type: ignore[arg-type]
    return str(seen["key"])


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("203.0.113.5", ["198.51.100.1"], "203.0.113.5"),  # untrusted peer: header ignored
        ("10.0.0.1", ["198.51.100.1"], "198.51.100.1"),
        ("10.0.0.1", ["1.1.1.1, 198.51.100.1, 10.0.0.2"], "198.51.100.1"),  # right-most untrusted
        ("10.0.0.1", ["1.1.1.1", "198.51.100.1"], "198.51.100.1"),  # several header lines
        # An entry that is not an address ends the walk: what a client wrote to its left is
        # never believed.
        ("10.0.0.1", ["198.51.100.1, garbage"], "unknown"),
        ("10.0.0.1", ["198.51.100.1, garbage, 10.0.0.2"], "unknown"),
        ("10.0.0.1", ["198.51.100.1:4321"], "198.51.100.1"),
        ("10.0.0.1", ["[2001:db8:1:2::7]:443"], "2001:db8:1:2::/64"),
        ("10.0.0.1", ["10.0.0.9, 10.0.0.8"], "10.0.0.9"),  # all trusted: the farthest hop
        ("10.0.0.1", [], "10.0.0.1"),
        ("fd00::1", ["198.51.100.1"], "198.51.100.1"),
        ("::ffff:203.0.113.5", [], "203.0.113.5"),
        ("2001:db8:aa:bb:1:2:3:4", [], "2001:db8:aa:bb::/64"),
        (None, [], "unknown"),
    ],
)
async def test_client_key(peer: str | None, forwarded: list[str], expected: str) -> None:
    assert await key_behind_proxies(peer, *forwarded) == expected


async def test_distinct_huge_forwarded_headers_do_not_grow_the_process(limited, prefix):
    """Behind a trusted proxy, every request with its own ~96 KB X-Forwarded-For: nothing is
    kept per header (the hand-written parser cached each one: 124 MB for 150 requests)."""
    # MAX_HEADER_BYTES would refuse such headers (431); raised here to reach the parser.
    client = await limited(peer="10.0.0.1", trusted_proxies=["10.0.0.0/8"],
                           rate_limit_storage_url="memory://", max_header_bytes=262_144)
    filler = ", ".join(["203.0.113.9"] * 6000)
    tracemalloc.start()
    try:
        for n in range(40):  # warm-up: caches of fixed size fill here
            await client.get(f"{prefix}/plain", headers={"X-Forwarded-For": f"{n}, {filler}"})
        gc.collect()  # what is kept, not garbage awaiting the collector (76 KB a request here)
        before, _ = tracemalloc.get_traced_memory()
        for n in range(150):
            response = await client.get(
                f"{prefix}/plain", headers={"X-Forwarded-For": f"{n}.{n}, {filler}"}
            )
            assert response.status_code == 200
        gc.collect()
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert after - before < 2_000_000, f"grew by {after - before} bytes"


async def test_in_process_counting_leaves_the_event_loop_alone(limited, prefix):
    """memory:// counts inline. limits' asyncio memory storage would start one event-loop task
    per counted request, and that task walks every client's counters (with 10,000 other clients
    counted, a GET by id took 1,897 us of CPU against 864: README, `make bench-cpu`)."""
    client = await limited(rate_limit_storage_url="memory://")
    await spend(client, f"{prefix}/db", 3)  # the pool's own start-up tasks are behind us
    loop = asyncio.get_running_loop()
    started: list[Any] = []
    default = loop.get_task_factory()

    def counting(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Task:
        code = getattr(coro, "cr_code", None)  # only limits' own: the app has timers of its own
        if code is not None and f"{os.sep}limits{os.sep}" in code.co_filename:
            started.append(coro)
        if default is not None:
            return default(loop, coro, **kwargs)  # type: ignore[return-value]
        return asyncio.Task(coro, loop=loop, **kwargs)

    loop.set_task_factory(counting)
    try:
        for _ in range(20):  # a real round trip each, as a server's loop turns between requests
            response = await client.get(f"{prefix}/db")
            assert response.status_code == 200 and response.headers["x-ratelimit-remaining"]
    finally:
        loop.set_task_factory(default)
    assert started == []


async def test_in_process_counters_are_swept_by_one_thread_for_the_apps_life(pg_url):
    """limits' MemoryStorage would start a sweep thread every 10 ms of traffic, ~19 us of a GET
    by id (core/compat.py): one sweeper holds its timer slot from start-up to shutdown."""
    from app import create_app
    from conftest import make_settings

    app = create_app(make_settings(pg_url, rate_limit_storage_url="memory://"))
    async with app.router.lifespan_context(app):
        limiter = app.state.rate_limiter
        transport = httpx.ASGITransport(app=app, client=(random_v4(), 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            for _ in range(5):
                assert (await client.get("/articles?limit=1")).status_code == 200
        assert limiter.storage.timer is limiter.sweeper and limiter.sweeper.is_alive()
        assert [t.name for t in threading.enumerate()].count("rate-limit-sweeper") >= 1
    assert not limiter.sweeper.is_alive()


def test_the_sweep_drops_expired_counters_and_keeps_live_ones():
    storage = limits.storage.MemoryStorage()
    storage.timer.cancel()  # limits' own first sweep: only ours may drop anything here
    sweeper = MemorySweeper(storage)
    storage.incr("gone", expiry=-1)  # expired as soon as it is counted
    storage.incr("live", expiry=60)
    sweeper.sweep()
    assert "gone" not in storage.expirations
    assert storage.get("live") == 1


def test_counting_is_limits_own(make_settings_for_limits, redis_url):
    """limits' own strategies over its own storages: no counter of ours."""
    memory = RateLimiter(make_settings_for_limits())
    assert type(memory.strategy) is limits.strategies.SlidingWindowCounterRateLimiter
    assert type(memory.storage) is limits.storage.MemoryStorage
    shared = RateLimiter(make_settings_for_limits(
        rate_limit_storage_url=redis_url, rate_limit_strategy="fixed-window"
    ))
    assert type(shared.strategy) is FixedWindowRateLimiter
    assert type(shared.storage).__module__.startswith("limits.aio.storage")


async def test_apps_in_one_process_keep_their_own_limits(make_client):
    """Route objects are shared by every app built from the feature modules: one app's limiter
    (its settings, its storage, its event loop) must never leak into another's routes."""
    strict = await make_client(peer="192.0.2.61", search_rate_limit="1/minute")
    relaxed = await make_client(peer="192.0.2.61", search_rate_limit="1000/minute")
    unlimited = await make_client(peer="192.0.2.61", rate_limit_enabled=False)
    params = {"q": "anything"}
    assert (await strict.get("/search", params=params)).status_code == 200
    assert (await strict.get("/search", params=params)).status_code == 429
    for _ in range(3):
        response = await relaxed.get("/search", params=params)
        assert response.status_code == 200
        assert response.headers["x-ratelimit-limit"] == "1000"
    response = await unlimited.get("/search", params=params)
    assert response.status_code == 200 and "x-ratelimit-limit" not in response.headers
