"""A stand-in for a psycopg AsyncConnection, for tests that swap the database dependency.

The chapter's testing pattern: `app.dependency_overrides[get_connection] = fake.dependency`
makes every route that takes `Conn` talk to this object instead of PostgreSQL. Each statement
executed answers the next scripted result (a list of rows, already in the row type the query
asks for), and the statements are kept for assertions.
"""
from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any


class FakeCursor:
    def __init__(self, connection: FakeConnection) -> None:
        self.connection = connection
        self.rows: list[Any] = []

    async def __aenter__(self) -> FakeCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def execute(self, sql: str, params: Any = None) -> FakeCursor:
        self.connection.executed.append(sql)
        self.rows = list(self.connection.results.pop(0)) if self.connection.results else []
        return self

    async def fetchone(self) -> Any:
        return self.rows[0] if self.rows else None

    async def fetchall(self) -> list[Any]:
        return self.rows


class FakeConnection:
    def __init__(self, *results: list[Any]) -> None:
        self.results = list(results)
        self.executed: list[str] = []

    def cursor(self, **_: Any) -> FakeCursor:
        return FakeCursor(self)

    async def execute(self, sql: str, params: Any = None) -> FakeCursor:
        return await FakeCursor(self).execute(sql, params)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        yield

    async def dependency(self) -> AsyncIterator[FakeConnection]:
        """Use as `app.dependency_overrides[get_connection] = fake.dependency`."""
        yield self


def pool_requests(app: Any) -> int:
    """Connections ever asked of the app's real pool: unchanged means PostgreSQL was not used."""
    return int(app.state.pool.get_stats().get("requests_num", 0))
