"""`make bench-cpu`: CPU microseconds per request, in-process, for the busiest routes.

Drives the ASGI app directly (no server, no sockets to a client) against a real PostgreSQL
(BENCH_DATABASE_URL, else an embedded one under .data/), so what is measured is the service's
own request path: middleware, routing, limiter, dependencies, SQL round trip, serialisation.
CPU time of this process only (PostgreSQL's own work is another process). Reports the minimum
over several batches, which is the least noisy figure on a shared machine. On two cores or more
this process runs on core 0 and the embedded PostgreSQL on core 1 (a server named by
BENCH_DATABASE_URL is left where it is): sharing a core with the server moved two identical
apps' figures ±10 µs apart, kept apart they agree within 1 µs.
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from bench.run import database, load
from core.migrations import apply_migrations

ARTICLES = int(os.environ.get("BENCH_CPU_ARTICLES", "2000"))
BATCH = int(os.environ.get("BENCH_CPU_BATCH", "1000"))
BATCHES = int(os.environ.get("BENCH_CPU_BATCHES", "7"))
CROWD = 10_000


def scope(path: str, query: bytes = b"", headers: list[tuple[bytes, bytes]] | None = None) -> dict:
    return {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
        "method": "GET", "scheme": "http", "path": path, "raw_path": path.encode(),
        "query_string": query, "root_path": "", "headers": headers or [(b"host", b"bench")],
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
    }


async def call(app: Any, request_scope: dict) -> int:
    status = 0

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(dict(request_scope), receive, send)
    return status


async def measure(app: Any, make: Callable[[int], dict], expect: int) -> float:
    if os.environ.get("BENCH_CPU_PROFILE"):
        import cProfile
        import pstats

        profile = cProfile.Profile()
        profile.enable()
        for i in range(BATCH):
            await call(app, make(i))
        profile.disable()
        stats = pstats.Stats(profile, stream=sys.stderr).sort_stats("tottime")
        stats.print_stats(45)
    best = float("inf")
    for batch in range(BATCHES):
        started = time.process_time()
        for i in range(BATCH):
            status = await call(app, make(batch * BATCH + i))
            if status != expect:
                sys.exit(f"unexpected status {status}, wanted {expect}")
        best = min(best, (time.process_time() - started) / BATCH)
    return best * 1e6


ROUTES: dict[str, tuple[Callable[[int], dict], int]] = {
    "GET /articles/{id}": (lambda i: scope(f"/articles/{1 + i % ARTICLES}"), 200),
    "GET /articles (first page)": (lambda i: scope("/articles"), 200),
    "GET /articles/{id} unknown (404)": (lambda i: scope(f"/articles/{ARTICLES + 1 + i}"), 404),
}


async def run(url: str) -> None:
    os.environ.update({
        "DATABASE_URL": url, "MIGRATE_ON_START": "false", "LOG_FORMAT": "json",
        "RATE_LIMIT_DEFAULT": "100000000/minute", "SEARCH_RATE_LIMIT": "100000000/minute",
        "DB_POOL_MIN_SIZE": "4", "DB_POOL_MAX_SIZE": "4",
    })
    from app import create_app
    from bench.floor import app as floor

    app = create_app()
    saved = os.dup(1)
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # the access log: written, not shown
    ours: dict[str, float] = {}
    floors: dict[str, float] = {}
    try:
        async with app.router.lifespan_context(app), floor.router.lifespan_context(floor):
            for name, (make, expect) in ROUTES.items():  # floor and ours interleaved, twice
                for _ in range(2):
                    floors[name] = min(floors.get(name, 1e9), await measure(floor, make, expect))
                    ours[name] = min(ours.get(name, 1e9), await measure(app, make, expect))
            await crowd(app)
            make, expect = ROUTES["GET /articles/{id}"]
            crowded = await measure(app, make, expect)
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
    print(f"{'route':36} {'floor us':>9} {'ours us':>9} {'floor/ours':>10}")
    for name, micros in ours.items():
        print(f"{name:36} {floors[name]:9.1f} {micros:9.1f} {floors[name] / micros:10.2f}")
    print(f"{f'GET /articles/{{id}}, {CROWD:,} clients':36} {'':9} {crowded:9.1f}")


async def crowd(app: Any) -> None:
    """Counters for CROWD other clients of GET /articles/{id}, as a busy public instance holds."""
    limiter = app.state.rate_limiter
    rule = next(r for r in limiter.rules.values() if r.key == "GET /articles/{article_id}")
    for n in range(CROWD):
        await limiter.check(rule.item, rule.key, f"10.{n >> 16}.{(n >> 8) & 255}.{n & 255}")


def pin_apart(admin: str) -> None:
    """This process on core 0; the embedded server (its postmaster and every process it has
    forked, and so every later backend) on core 1."""
    if (os.cpu_count() or 1) < 2 or os.environ.get("BENCH_DATABASE_URL"):
        return
    with psycopg.connect(admin) as conn:
        data_dir = conn.execute("SHOW data_directory").fetchone()[0]  # type: ignore[index]
    postmaster = int(Path(data_dir, "postmaster.pid").read_text().split()[0])
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            pid, ppid = int(stat.parent.name), int(stat.read_text().rsplit(")", 1)[1].split()[1])
            if postmaster in (pid, ppid):
                os.sched_setaffinity(pid, {1})
    os.sched_setaffinity(0, {0})


def main() -> None:
    admin, url = database()
    pin_apart(admin)
    apply_migrations(url)
    load(url, ARTICLES)
    try:
        asyncio.run(run(url))
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


if __name__ == "__main__":
    main()
