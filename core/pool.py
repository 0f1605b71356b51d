"""The connection pool: psycopg_pool's, bounded so that a stalled PostgreSQL never hangs a request.

Four bounds, each from a setting (README, "Configuration"):

- `DB_STATEMENT_TIMEOUT` and `DB_LOCK_TIMEOUT` are PostgreSQL's own `statement_timeout` and
  `lock_timeout`, sent as start-up options: the server cancels a statement that runs too long
  or waits too long for a row lock, the connection stays healthy, the request gets 503.
- `DB_CLIENT_TIMEOUT` is the client-side deadline for a server that does not answer at all
  (frozen, or a network that drops packets): a borrowed connection on which no statement has
  started for that long (since the borrowing, or since its last statement began) has its
  socket shut down, so whatever waits on it (the statement, a COMMIT, a pipeline's sync)
  fails at once with OperationalError (503) and the pool replaces it. A borrowing that keeps
  issuing statements (a feed import's chunks) is never cut however long it lasts; one
  statement gets the whole deadline. Borrowings are tracked in `getconn`/`putconn`, the pool's
  public pair; statement starts by the connections' cursor class (psycopg's documented
  `cursor_factory`); one watchdog task sweeps them every `TICK`.
- TCP keepalives (fixed below) notice a peer that vanished from the network.

A connection idle for more than `CHECK_IDLE_AFTER` seconds is checked on borrow with
psycopg_pool's documented `check` callback, bounded by `CHECK_TIMEOUT`: after an outage,
connections that died with the server are replaced before a request sees them. One in steady
use is not checked again: its last statement has just proved it.

A write cut by the deadline is rolled back unless its COMMIT had already left: then the server
commits it when it wakes, though the client got 503. As with any lost answer, a 503 on a write
means "not known to be stored" (a retried POST then meets its own slug: 409).
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from time import monotonic
from typing import Any

import psycopg
import structlog
from psycopg import AsyncConnection, AsyncCursor
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import AsyncConnectionPool

from .settings import Settings

log = structlog.get_logger(__name__)

CHECK_IDLE_AFTER = 1.0  # seconds
CHECK_TIMEOUT = 1.0  # seconds an empty query on a borrowed idle connection may take
TICK = 0.1  # seconds between deadline sweeps: how late a deadline may be enforced
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10,
              "keepalives_count": 3}


def connect_kwargs(url: str, settings: Settings) -> dict[str, Any]:
    """Connection parameters besides the URL's own."""
    # autocommit: a single statement needs no BEGIN/COMMIT round trips; writes that need
    # several statements open `async with conn.transaction()` explicitly.
    kwargs: dict[str, Any] = {
        "autocommit": True,
        "connect_timeout": 3,
        "application_name": "articles-service",
        **KEEPALIVES,
    }
    if settings.db_pooler == "transaction":
        # A transaction pooler hands each transaction to any server connection: a statement
        # prepared on one is missing on the next, and start-up options are not passed on.
        # The timeouts then belong on the role (README, "Behind PgBouncer").
        kwargs["prepare_threshold"] = None
    elif options := session_options(settings):
        own = conninfo_to_dict(url).get("options")
        kwargs["options"] = f"{own} {options}" if own else options
    return kwargs


def session_options(settings: Settings) -> str:
    values = {"statement_timeout": settings.db_statement_timeout,
              "lock_timeout": settings.db_lock_timeout}
    return " ".join(f"-c {name}={round(s * 1000)}" for name, s in values.items() if s)


class TimedCursor(AsyncCursor[Any]):
    """psycopg's cursor, noting on its connection when each statement starts."""

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        self.connection.statement_started = monotonic()  # type: ignore[attr-defined]
        return await super().execute(*args, **kwargs)

    async def executemany(self, *args: Any, **kwargs: Any) -> None:
        self.connection.statement_started = monotonic()  # type: ignore[attr-defined]
        await super().executemany(*args, **kwargs)


class TimedConnection(AsyncConnection[Any]):
    """psycopg's connection with a slot for the start of its latest statement."""

    __slots__ = ("statement_started",)


class BoundedPool(AsyncConnectionPool):
    """AsyncConnectionPool with the client deadline and the check on borrow described above.

    A borrowing costs two dict writes and a statement one attribute write; the deadlines are
    enforced by one watchdog task, not by a timer per borrowing (that cost ~10 µs of a ~280 µs
    GET by id)."""

    def __init__(self, url: str, *, client_timeout: float, **kwargs: Any) -> None:
        self.client_timeout = client_timeout
        self.borrowed: dict[AsyncConnection[Any], float] = {}  # -> when it was handed out
        self.returned_at: dict[AsyncConnection[Any], float] = {}
        self.checking: dict[AsyncConnection[Any], float] = {}  # -> when its check must have ended
        self.watchdog: asyncio.Task[None] | None = None
        kwargs["kwargs"] = {**kwargs.get("kwargs", {}), "cursor_factory": TimedCursor}
        super().__init__(url, connection_class=TimedConnection, check=self.check_if_idle,
                         **kwargs)

    async def open(self, wait: bool = False, timeout: float = 30.0) -> None:  # noqa: ASYNC109
        await super().open(wait, timeout)
        if self.watchdog is None:
            self.watchdog = asyncio.create_task(self.watch(), name=f"{self.name}-deadlines")

    async def close(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        try:
            await super().close(timeout)
        finally:
            if self.watchdog is not None:
                self.watchdog.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self.watchdog
                self.watchdog = None

    async def getconn(self, timeout: float | None = None) -> AsyncConnection[Any]:  # noqa: ASYNC109
        conn = await super().getconn(timeout)
        self.borrowed[conn] = monotonic()
        return conn

    async def putconn(self, conn: AsyncConnection[Any]) -> None:
        self.borrowed.pop(conn, None)
        self.returned_at[conn] = monotonic()
        await super().putconn(conn)

    async def check_if_idle(self, conn: AsyncConnection[Any]) -> None:
        now = monotonic()
        if now - self.returned_at.get(conn, -CHECK_IDLE_AFTER) < CHECK_IDLE_AFTER:
            return
        # Bounded by the watchdog, not by cancelling: psycopg answers a cancelled query by
        # asking the server to cancel it, which a frozen server makes wait up to 10 s.
        self.checking[conn] = now + CHECK_TIMEOUT
        try:
            await AsyncConnectionPool.check_connection(conn)
        finally:
            self.checking.pop(conn, None)

    async def watch(self) -> None:
        """Sever borrowings silent past the deadline; forget connections the pool closed."""
        while True:
            await asyncio.sleep(TICK)
            try:
                self.sweep(monotonic())
            except Exception:  # the watchdog must outlive any one connection's trouble
                log.exception("database_watchdog_error")

    def sweep(self, now: float) -> None:
        limit = self.client_timeout
        for conn, since in list(self.borrowed.items()) if limit else ():
            if now - max(since, getattr(conn, "statement_started", 0.0)) >= limit:
                del self.borrowed[conn]
                sever(conn)
        for conn in [c for c, deadline in self.checking.items() if deadline <= now]:
            del self.checking[conn]
            sever(conn)
        for conn in [c for c in self.returned_at if c.closed]:
            del self.returned_at[conn]


def sever(conn: AsyncConnection[Any]) -> None:
    """Shut the connection's socket down: the statement waiting on it fails with
    OperationalError now, rather than when (if ever) the server answers."""
    with contextlib.suppress(psycopg.Error, OSError):
        fd = conn.fileno()
        log.warning("database_deadline")
        with socket.socket(fileno=os.dup(fd)) as sock:
            sock.shutdown(socket.SHUT_RDWR)


async def warn_if_unbounded(pool: AsyncConnectionPool, settings: Settings) -> None:
    """Behind a transaction pooler the service cannot set the server timeouts itself: say so at
    start-up when the role has none (README, "Behind PgBouncer")."""
    if settings.db_pooler != "transaction":
        return
    with contextlib.suppress(psycopg.Error):
        async with pool.connection() as conn:
            cur = await conn.execute("SELECT current_setting('statement_timeout'),"
                                     " current_setting('lock_timeout')")
            row = await cur.fetchone()
        if row and "0" in row:
            log.warning("server_timeouts_unset", statement_timeout=row[0], lock_timeout=row[1],
                        fix="ALTER ROLE <role> SET statement_timeout = '5s', lock_timeout = '2s'")
