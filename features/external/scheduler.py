"""Scheduled refresh: a task in every instance claims due feeds (FOR UPDATE SKIP LOCKED) and
imports them, so each due feed is imported once per interval however many instances run."""
from __future__ import annotations

import asyncio
import contextlib
import random

import structlog
from psycopg_pool import AsyncConnectionPool

from core.errors import DatabaseUnavailable

from . import queries
from .errors import ImportRefused, UpstreamFailed, UpstreamTimeout
from .fetch import Fetcher
from .service import import_feed

log = structlog.get_logger(__name__)

TICK_SECONDS = 30.0
BATCH = 4  # feeds imported at once by one instance
LEASE_MARGIN = 300.0  # seconds a claim outlives the fetch time cap (parse and store)


class Scheduler:
    """`run_once` is one claim cycle (tests drive it directly); `start` runs it every
    `tick_seconds` in the background until `stop`."""

    def __init__(
        self, pool: AsyncConnectionPool, fetcher: Fetcher,
        tick_seconds: float = TICK_SECONDS, batch: int = BATCH,
    ) -> None:
        self._pool = pool
        self._fetcher = fetcher
        self._tick = tick_seconds
        self._batch = batch
        self._lease = fetcher.policy.timeout + LEASE_MARGIN
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.cycles = 0  # claim cycles finished by the background task

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="external-feed-scheduler")

    async def stop(self, grace: float = 5.0) -> None:
        """Let the current batch finish for up to `grace` seconds, then cancel it (the lease
        brings its feeds back later)."""
        self._stopping.set()
        if self._task is None:
            return
        done, _ = await asyncio.wait({self._task}, timeout=grace)
        if not done:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        log.info("feed_scheduler_stopped")

    async def run_once(self) -> int:
        """Claim up to `batch` due feeds and import them concurrently; returns how many."""
        async with queries.connection(self._pool) as db:
            claimed = await queries.claim_due(db, self._batch, self._lease)
        await asyncio.gather(*(self._refresh(feed) for feed in claimed))
        return len(claimed)

    async def _loop(self) -> None:
        await self._pause(random.uniform(0, self._tick))  # instances do not tick in step
        while not self._stopping.is_set():
            ran = 0
            try:
                ran = await self.run_once()
            except Exception:  # no request handler above a background task
                log.exception("feed_scheduler_tick_failed")
            self.cycles += 1
            if ran < self._batch:  # a full batch means more may be due: go on at once
                await self._pause(self._tick * random.uniform(0.9, 1.1))

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _refresh(self, feed: queries.DueFeed) -> None:
        """Import one feed and record the outcome; a failure backs this feed off only."""
        try:
            result = await import_feed(self._pool, self._fetcher, feed.url, None, "schedule")
        except (ImportRefused, UpstreamFailed, UpstreamTimeout, DatabaseUnavailable) as exc:
            error = str(exc)
        except Exception as exc:  # one feed's bug must not stop the others
            log.exception("feed_refresh_crashed", feed_id=feed.id)
            error = f"internal error ({type(exc).__name__})"
        else:
            async with queries.connection(self._pool) as db:
                await queries.record_success(db, feed.id, result)
            return
        async with queries.connection(self._pool) as db:
            await queries.record_failure(db, feed.id, error)
