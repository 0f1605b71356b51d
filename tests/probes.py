"""Test-only routes that exercise core plumbing (Pool, WriteKey, body reading, crashes)."""
from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict

from core.db import Pool
from core.security import WriteKey


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    count: int


def add_probe_routes(app: FastAPI) -> None:
    @app.get("/_probe/db")
    async def probe_db(db: Pool) -> dict[str, Any]:
        async with db.connection() as conn:
            cur = await conn.execute("SELECT 1")
            row = await cur.fetchone()
        return {"one": row[0] if row else None}

    @app.get("/_probe/slow-db")
    async def probe_slow_db(db: Pool, seconds: float = 1.0) -> dict[str, Any]:
        async with db.connection() as conn:
            await conn.execute("SELECT pg_sleep(%s)", (seconds,))
        return {"slept": seconds}

    @app.post("/_probe/echo")
    async def probe_echo(payload: Payload) -> Payload:
        return payload

    @app.post("/_probe/write")
    async def probe_write(key: WriteKey) -> dict[str, str]:
        return {"key": key}

    @app.get("/_probe/crash")
    async def probe_crash() -> None:
        raise RuntimeError("secret-password-in-trace")
