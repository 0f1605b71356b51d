"""A PostgreSQL that stalls instead of failing: frozen with SIGSTOP, a row lock held by another
session, a statement that runs too long, idle connections that died with the server. Each is a
503 with Retry-After within the configured bound (core/pool.py), never a hang, and the same app
recovers without a restart.

Each test names, in its docstring, the change that makes it fail. The outer `wait_for` bounds
turn a hang into a failure instead of a stuck suite.
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from conftest import AUTH, make_settings
from core.migrations import apply_migrations
from core.pool import connect_kwargs
from tests.servers import Postgres, create_database

HANG = 20.0  # what "hangs" means here: well past every bound these tests configure


@pytest.fixture
def own_db(own_postgres: Postgres) -> str:
    url = create_database(own_postgres.url)
    apply_migrations(url)
    return url


def server_processes(server: Postgres) -> list[int]:
    """The postmaster and every backend it forked: freezing only the postmaster would leave
    the backends answering."""
    postmaster = int((Path(server.server.pgdata) / "postmaster.pid").read_text().split()[0])
    children = subprocess.run(["pgrep", "-P", str(postmaster)], capture_output=True, text=True)
    return [postmaster, *map(int, children.stdout.split())]


@contextlib.contextmanager
def frozen(server: Postgres) -> Iterator[None]:
    pids = server_processes(server)
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


async def timed_get(client, path: str) -> tuple[int, float, dict[str, str]]:
    started = time.monotonic()
    response = await asyncio.wait_for(client.get(path), HANG)
    return response.status_code, time.monotonic() - started, dict(response.headers)


async def create_article(client, unique: str) -> int:
    payload = {"title": f"Stall {unique}", "slug": f"stall-{unique}", "body": "body"}
    response = await client.post("/articles", json=payload, headers=AUTH)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


@pytest.mark.parametrize("idle", [False, True], ids=["in-use", "idle"])
async def test_frozen_server_is_503_within_the_bounds_every_time_then_recovers(
    make_client, own_postgres, own_db, unique, idle
):
    """SIGSTOP on every PostgreSQL process. In use: the pooled connection was just used, so its
    statement is sent and never answered, and the client deadline shuts its socket. Idle: it sat
    past CHECK_IDLE_AFTER, so the check on borrow meets the frozen server and gives up within the
    pool timeout. Either way 503 + Retry-After, and so are the requests after (no healthy
    connection, the pool timeout). After SIGCONT the same app answers 200 again.

    Fails when: DB_CLIENT_TIMEOUT is not armed on borrow (tried: in-use hangs until SIGCONT), or
    the check on borrow runs without a deadline (tried: idle hangs in the check).
    """
    client = await make_client(database_url=own_db, db_pool_min_size=1, db_pool_max_size=1,
                               db_pool_timeout=1.0, db_statement_timeout=0.5,
                               db_client_timeout=1.5, rate_limit_enabled=False)
    article = await create_article(client, unique)
    if idle:
        await asyncio.sleep(1.2)  # past CHECK_IDLE_AFTER: what is tested, not a synchronisation
    bound = 1.5 + 1.0 + 1.0  # client deadline + pool timeout + scheduling slack
    with frozen(own_postgres):
        for _ in range(3):
            status, took, headers = await timed_get(client, f"/articles/{article}")
            assert status == 503 and "retry-after" in headers, (status, took)
            assert took < bound, took
    deadline = time.monotonic() + HANG
    while (await timed_get(client, f"/articles/{article}"))[0] != 200:
        assert time.monotonic() < deadline, "no recovery after SIGCONT"
        await asyncio.sleep(0.1)  # a client honouring Retry-After, not synchronisation


async def test_row_lock_held_elsewhere_is_503_within_lock_timeout_and_reads_go_on(
    make_client, pg_url, unique
):
    """A PATCH blocked on a row that another session holds FOR UPDATE gives up after
    DB_LOCK_TIMEOUT with 503 + Retry-After, not after the lock; reads of the row go on; once the
    lock is gone the PATCH succeeds.

    Fails when: lock_timeout is not sent as a start-up option (tried: the PATCH waits for the
    holder, past HANG).
    """
    client = await make_client(db_lock_timeout=0.3, db_statement_timeout=5,
                               db_client_timeout=10, rate_limit_enabled=False)
    article = await create_article(client, unique)
    patch = {"body": "changed"}
    async with await psycopg.AsyncConnection.connect(pg_url) as holder:
        await holder.execute("SELECT id FROM articles WHERE id = %s FOR UPDATE", (article,))
        started = time.monotonic()
        response = await asyncio.wait_for(
            client.patch(f"/articles/{article}", json=patch, headers=AUTH), HANG
        )
        took = time.monotonic() - started
        assert response.status_code == 503 and "retry-after" in response.headers, response.text
        assert took < 0.3 + 1.5, took
        assert (await timed_get(client, f"/articles/{article}"))[0] == 200
        await holder.rollback()
    response = await client.patch(f"/articles/{article}", json=patch, headers=AUTH)
    assert response.status_code == 200 and response.json()["body"] == "changed"


async def test_statement_past_statement_timeout_is_cancelled_by_the_server(
    make_client, pg_url, unique
):
    """With lock_timeout and the client deadline off, the same blocked PATCH is cancelled by
    statement_timeout: 503 within it, and the connection stays usable (the next request on
    the one-connection pool is served by the same backend).

    Fails when: statement_timeout is not sent (the PATCH waits for the holder, past HANG)."""
    client = await make_client(db_lock_timeout=0, db_statement_timeout=0.4, db_client_timeout=0,
                               db_pool_min_size=1, db_pool_max_size=1, rate_limit_enabled=False)
    article = await create_article(client, unique)
    pool = client.app.state.pool
    async with pool.connection() as conn:
        backend = conn.info.backend_pid
    async with await psycopg.AsyncConnection.connect(pg_url) as holder:
        await holder.execute("SELECT id FROM articles WHERE id = %s FOR UPDATE", (article,))
        started = time.monotonic()
        response = await asyncio.wait_for(
            client.patch(f"/articles/{article}", json={"body": "x"}, headers=AUTH), HANG
        )
        assert response.status_code == 503, response.text
        assert time.monotonic() - started < 0.4 + 1.5
        await holder.rollback()
    assert (await timed_get(client, f"/articles/{article}"))[0] == 200
    async with pool.connection() as conn:
        assert conn.info.backend_pid == backend


async def test_client_deadline_counts_from_the_latest_statement_not_the_borrowing(make_client):
    """A borrowing that keeps issuing statements (an import's chunks) outlives the deadline;
    one statement that the server does not finish within it is cut (statement_timeout off,
    so only the client deadline can end it).

    Fails when: the deadline counts from the borrowing (tried: the loop below is cut after
    1 s with OperationalError), or statement starts are not seen (the same)."""
    client = await make_client(db_statement_timeout=0, db_client_timeout=1.0)
    pool = client.app.state.pool
    started = time.monotonic()
    async with pool.connection() as conn:
        while time.monotonic() - started < 2.0:
            await conn.execute("SELECT pg_sleep(0.05)")
    started = time.monotonic()
    with pytest.raises(psycopg.OperationalError):
        async with pool.connection() as conn:
            await asyncio.wait_for(conn.execute("SELECT pg_sleep(5)"), HANG)
    assert time.monotonic() - started < 1.0 + 1.0


async def test_first_request_after_a_restart_gets_a_live_connection(
    make_client, own_postgres, own_db, unique
):
    """PostgreSQL restarted while the pool's connection sat idle: the check on borrow finds it
    dead and the pool gives a new one, so the first request after recovery is 200, not 503.

    Fails when: the pool is built without the `check` callback (tried: 503 on the first request).
    """
    client = await make_client(database_url=own_db, db_pool_min_size=1, db_pool_max_size=1,
                               db_pool_timeout=5.0, rate_limit_enabled=False)
    article = await create_article(client, unique)
    last_use = time.monotonic()
    await asyncio.to_thread(own_postgres.stop, "fast")
    await asyncio.to_thread(own_postgres.start)
    # The check applies to connections idle past CHECK_IDLE_AFTER (1 s); a restart is usually
    # slower than that, and when it is not, wait out the rest.
    await asyncio.sleep(max(0.0, last_use + 1.1 - time.monotonic()))
    status, _, _ = await timed_get(client, f"/articles/{article}")
    assert status == 200


def test_timeouts_join_the_urls_own_options_and_stay_off_behind_a_pooler():
    """Start-up options in DATABASE_URL are kept beside the timeouts; behind a transaction pooler
    neither start-up options nor prepared statements are used.

    Fails when: the timeouts replace the URL's options, or DB_POOLER=transaction still sends
    them (pgbouncer 1.18 refuses the connection)."""
    url = "postgresql://app@db/articles?options=-c%20search_path%3Dapp"
    direct = connect_kwargs(url, make_settings(url, db_statement_timeout=4, db_lock_timeout=0.5))
    assert direct["options"] == "-c search_path=app -c statement_timeout=4000 -c lock_timeout=500"
    assert "prepare_threshold" not in direct
    pooled = connect_kwargs(url, make_settings(url, db_pooler="transaction"))
    assert "options" not in pooled and pooled["prepare_threshold"] is None
