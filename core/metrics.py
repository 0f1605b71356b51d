"""Prometheus metrics: request counts and latency, pool gauges, rate-limit and import counters.

The metric objects are module-level because prometheus-client is built that way: in
multiprocess mode each one writes to a per-process file that every worker's /metrics reads.
Per-app state (the pool collector, the registry /metrics renders) lives on `app.state.metrics`.

Multiprocess mode is on when PROMETHEUS_MULTIPROC_DIR names an existing, empty-at-start
directory. prometheus-client reads that variable itself when it is first imported, so it must be
in the environment before the process starts (not in `.env`); this module checks the same
variable so /metrics renders what the library records.
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.registry import Collector
from psycopg_pool import AsyncConnectionPool

# The classic text format generate_latest writes. (prometheus-client's CONTENT_TYPE_LATEST now
# names text format 1.0.0, which is not what generate_latest emits by default.)
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4

MULTIPROC_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None
if MULTIPROC_DIR and not os.path.isdir(MULTIPROC_DIR):
    # The metrics below would fail to create their files with a long traceback.
    sys.exit(f"configuration error: PROMETHEUS_MULTIPROC_DIR: {MULTIPROC_DIR} is not a directory")

# The *_created series only matter to OpenMetrics scrapes; here they would double every family.
disable_created_metrics()

# Seconds. Tuned for an API whose typical answer takes a few milliseconds.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

# Clients choose the method; anything unusual is folded into one label value.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

REQUESTS = Counter(
    "http_requests",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
    registry=None,
)
LATENCY = Histogram(
    "http_request_duration_seconds",
    "Time from request start to the end of the response, by method and route template.",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
    registry=None,
)
RATE_LIMIT_REJECTIONS = Counter(
    "rate_limit_rejections",
    "Requests refused with 429, by route template.",
    ["route"],
    registry=None,
)
IMPORTS = Counter(
    "imports",
    "Feed imports finished, by outcome.",
    ["outcome"],
    registry=None,
)

# (name, help, key in psycopg_pool's get_stats())
_POOL_STATS = (
    ("db_pool_connections", "Connections the pool holds open (in use + idle).", "pool_size"),
    ("db_pool_idle_connections", "Open connections waiting in the pool.", "pool_available"),
    ("db_pool_waiting_requests", "Requests waiting for a connection.", "requests_waiting"),
    ("db_pool_max_connections", "The pool's upper bound (DB_POOL_MAX_SIZE).", "pool_max"),
)
# Multiprocess mode only: "livesum" adds up the live workers of this instance, which is what
# PostgreSQL's max_connections and the pool's saturation are measured against; a worker that
# stops drops out (see _forget_dead_workers) instead of being summed forever.
_POOL_GAUGES = {
    key: Gauge(name, doc, registry=None, multiprocess_mode="livesum")
    for name, doc, key in _POOL_STATS
}
POOL_SAMPLE_SECONDS = 5.0


def record_rate_limited(route: str) -> None:
    """Count one 429. `route` is the route template ("/search"), never the raw path."""
    RATE_LIMIT_REJECTIONS.labels(route).inc()


def record_import(outcome: str) -> None:
    """Count one finished import. `outcome` is one of a small fixed set, e.g. "imported",
    "not_modified", "refused" (422), "upstream_error" (502), "timeout" (504): never a URL or a
    message, since every distinct value becomes a time series."""
    IMPORTS.labels(outcome).inc()


class RequestMetrics:
    """The middleware's hot-path recorder: label children are resolved once and cached, so a
    request costs one dict lookup, an increment and an observation.

    Keys are bounded: methods are folded to a fixed set, routes are templates (or "unmatched"),
    statuses are three-digit codes.
    """

    def __init__(self) -> None:
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        children = self._children.get((method, route, status))
        if children is None:
            label = method if method in _METHODS else "OTHER"
            children = (REQUESTS.labels(label, route, str(status)), LATENCY.labels(label, route))
            self._children[(method, route, status)] = children
        children[0].inc()
        children[1].observe(seconds)


class PoolCollector:
    """Single-process mode: reads pool.get_stats() at scrape time, so the gauges are exact."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    def describe(self) -> Iterable[Metric]:
        return [GaugeMetricFamily(name, doc) for name, doc, _ in _POOL_STATS]

    def collect(self) -> Iterable[Metric]:
        stats = self.pool.get_stats()
        return [GaugeMetricFamily(name, doc, value=stats[key]) for name, doc, key in _POOL_STATS]


def _sample_pool(pool: AsyncConnectionPool) -> None:
    stats = pool.get_stats()
    for key, gauge in _POOL_GAUGES.items():
        gauge.set(stats[key])


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _forget_dead_workers(path: str) -> None:
    """Drop "live" gauge files of workers that died without a clean shutdown (e.g. SIGKILL)."""
    for file in Path(path).glob("gauge_live*_*.db"):
        pid = file.stem.rsplit("_", 1)[-1]
        if pid.isdigit() and not _pid_alive(int(pid)):
            multiprocess.mark_process_dead(int(pid), path)


class Exporter:
    """What GET /metrics serves for one app."""

    def __init__(self, pool: AsyncConnectionPool, flush: Callable[[], None] | None = None) -> None:
        self.pool = pool
        self.flush = flush  # observes the requests noted but not yet observed (core/access.py)
        self.registry = CollectorRegistry()
        if MULTIPROC_DIR:
            multiprocess.MultiProcessCollector(self.registry, path=MULTIPROC_DIR)
            return
        collectors: list[Collector] = [
            REQUESTS, LATENCY, RATE_LIMIT_REJECTIONS, IMPORTS, PoolCollector(pool),
            PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR,
        ]
        for collector in collectors:
            self.registry.register(collector)

    async def render(self) -> bytes:
        """The text exposition. Multiprocess mode reads every worker's files off the loop."""
        if self.flush is not None:
            self.flush()
        if not MULTIPROC_DIR:
            return generate_latest(self.registry)
        _sample_pool(self.pool)
        return await asyncio.to_thread(self._render_files, MULTIPROC_DIR)

    def _render_files(self, path: str) -> bytes:
        _forget_dead_workers(path)
        return generate_latest(self.registry)


@asynccontextmanager
async def export_metrics(app: FastAPI, pool: AsyncConnectionPool) -> AsyncIterator[None]:
    """Put an Exporter on app.state.metrics for the app's lifetime.

    In multiprocess mode a scrape is answered by one worker, so every worker also writes its
    pool gauges every POOL_SAMPLE_SECONDS, and removes them when it stops.
    """
    access = getattr(app.state, "access_log", None)
    app.state.metrics = Exporter(pool, access.flush if access is not None else None)
    if not MULTIPROC_DIR:
        yield
        return
    sampler = asyncio.create_task(_sample_forever(pool), name="pool-metrics")
    try:
        yield
    finally:
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler
        multiprocess.mark_process_dead(os.getpid(), MULTIPROC_DIR)


async def _sample_forever(pool: AsyncConnectionPool) -> None:
    while True:
        _sample_pool(pool)
        await asyncio.sleep(POOL_SAMPLE_SECONDS)

