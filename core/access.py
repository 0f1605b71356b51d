"""Each finished request's access line (and, in one process, its metrics), a batch at a time.

Written as each request finished, the access line (structlog's processors, the JSON, the
write) took ~21 us of a ~265 us GET by id (in-process, CPU): that code ran cold between two
requests' worth of other code. Written a batch at a time, the same lines cost ~4 us each. So a
finished request is only noted (its fields and the time it finished) and the notes are
written through structlog, in order, when `BATCH` have gathered, `FLUSH_AFTER` seconds after
the first of them at the latest, and when the app stops.

The request metrics (a count and a latency observation, ~6 us inline) go the same way in a
single process, where /metrics writes the pending batch before it renders: a scrape counts
every request answered before it. With several workers (PROMETHEUS_MULTIPROC_DIR) a scrape is
answered by one worker, which cannot flush another's batch, so each worker observes at once.

What that means for the reader: an access line reaches stdout at most 50 ms after its
response, with the time the response finished as its timestamp; its request_id is the
request's own. A process killed with SIGKILL loses the lines of its last 50 ms (SIGTERM
writes them at shutdown). Lines logged inside a request (a warning, a trace) are written at
once, as before, so they may precede the access line of an earlier request.
"""
from __future__ import annotations

import asyncio
import contextvars
import time
from datetime import UTC, datetime

import structlog

from .metrics import MULTIPROC_DIR, RequestMetrics

BATCH = 100
FLUSH_AFTER = 0.05  # seconds
Line = tuple[float, str, str, str, int, float]  # finished (Unix time), id, method, route, ...


class AccessLog:
    """One app's access lines and request metrics (see module doc)."""

    def __init__(self, defer_metrics: bool = not MULTIPROC_DIR) -> None:
        self.log: structlog.typing.FilteringBoundLogger | None = None
        self.metrics = RequestMetrics()
        self.defer_metrics = defer_metrics
        self.pending: list[Line] = []
        self.timer: asyncio.TimerHandle | None = None
        self.loop: asyncio.AbstractEventLoop | None = None  # the timer's

    def record(self, request_id: str, method: str, route: str, status: int, elapsed: float) -> None:
        if not self.defer_metrics:
            self.metrics.observe(method, route, status, elapsed)
        self.pending.append((time.time(), request_id, method, route, status, elapsed))
        loop = asyncio.get_running_loop()
        if len(self.pending) >= BATCH or (self.timer is not None and self.loop is not loop):
            self.flush()  # a full batch, or a timer on a loop that has stopped (never to fire)
        elif self.timer is None:
            # In an empty context: the timer must not carry this request's bound log values.
            self.loop = loop
            self.timer = loop.call_later(FLUSH_AFTER, self.flush, context=contextvars.Context())

    def flush(self) -> None:
        """Write every pending line (and observation) now."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        pending, self.pending = self.pending, []
        if pending:
            # Outside any request's context: one request's bound values stay on its own lines.
            contextvars.Context().run(self._write, pending)

    def _write(self, pending: list[Line]) -> None:
        if self.log is None:
            # Bound on first use, after logging is configured: a bound logger, not the lazy
            # module-level proxy that re-resolves itself on every call.
            self.log = structlog.get_logger("access").bind()
        if self.defer_metrics:
            for _, _, method, route, status, elapsed in pending:
                self.metrics.observe(method, route, status, elapsed)
        try:
            for finished, request_id, method, route, status, elapsed in pending:
                self.log.info(
                    "request_finished",
                    timestamp=_iso(finished),
                    request_id=request_id,
                    method=method,
                    route=route,
                    status=status,
                    duration_ms=round(elapsed * 1000, 2),
                )
        except (OSError, ValueError):  # stdout gone (closed, a full disk): the lines with it
            pass


def _iso(finished: float) -> str:
    """structlog's TimeStamper(fmt="iso", utc=True) format, for a time already taken."""
    return datetime.fromtimestamp(finished, UTC).isoformat().replace("+00:00", "Z")
