"""Fixtures for every test: a real PostgreSQL, a real Redis, and app clients built on them.

PostgreSQL: TEST_DATABASE_URL's server when set, else an embedded one; either way the session
gets a fresh database with every migration applied. Redis: REDIS_URL when set, else an
embedded redis-server. Tests make their own data with unique values (`unique` fixture).
"""
from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from app import create_app
from core.migrations import apply_migrations
from core.settings import Settings
from tests.servers import Postgres, Redis, create_database, drop_database

API_KEY = "test-key-" + uuid.uuid4().hex
AUTH = {"Authorization": f"Bearer {API_KEY}"}

ClientFactory = Callable[..., Awaitable[httpx.AsyncClient]]


def server_dir() -> Path:
    # Not under pytest's tmp_path: pytest deletes all but the newest three basetemp folders,
    # and a concurrent session doing so would pull the data folder from under a live server.
    return Path(tempfile.mkdtemp(prefix="articles-test-pg-")) / "data"


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    external = os.environ.get("TEST_DATABASE_URL")
    if external:
        yield external
        return
    server = Postgres(server_dir())
    yield server.url
    server.close()


@pytest.fixture(scope="session")
def pg_url(pg_admin_url: str) -> Iterator[str]:
    """A fresh database for this session, fully migrated."""
    url = create_database(pg_admin_url)
    apply_migrations(url)
    yield url
    drop_database(pg_admin_url, url)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    external = os.environ.get("REDIS_URL")
    if external:
        yield external
        return
    server = Redis()
    yield server.url
    server.stop()


@pytest.fixture
def unique() -> str:
    """A short unique token for slugs, words and keys made by one test."""
    return uuid.uuid4().hex[:10]


def make_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "migrate_on_start": False,
        "api_keys": [API_KEY],
        "log_format": "json",
        "db_pool_min_size": 1,
        "db_pool_max_size": 5,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
async def make_client(pg_url: str) -> AsyncIterator[ClientFactory]:
    """Build an app on the session database (settings overridable), run its lifespan, and
    return an httpx client talking to it in-process. `peer` sets the client address."""
    async with AsyncExitStack() as stack:

        async def factory(
            peer: str = "127.0.0.1", app_hook: Callable[[Any], None] | None = None, **overrides: Any
        ) -> httpx.AsyncClient:
            settings = make_settings(overrides.pop("database_url", pg_url), **overrides)
            app = create_app(settings)
            if app_hook is not None:
                app_hook(app)
            await stack.enter_async_context(app.router.lifespan_context(app))
            transport = httpx.ASGITransport(app=app, client=(peer, 40000))
            client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
            await stack.enter_async_context(client)
            client.app = app  # type: ignore[attr-defined]
            return client

        yield factory


@pytest.fixture
async def client(make_client: ClientFactory) -> httpx.AsyncClient:
    return await make_client()


@pytest.fixture
def own_postgres() -> Iterator[Postgres]:
    """A PostgreSQL of this test's own, which the test may stop and start."""
    server = Postgres(server_dir())
    yield server
    server.close()


@pytest.fixture
def own_redis() -> Iterator[Redis]:
    """A Redis of this test's own, which the test may stop and start."""
    server = Redis()
    yield server
    server.stop()
