"""SQL migrations: each feature's `migrations/` folder, applied in order under a PostgreSQL lock.

yoyo-migrations orders the files (by `-- depends:` headers, then name) and records what it
applied; the advisory lock around it makes several instances starting together safe.
Run as `python -m core.migrations` (what `make migrate` does).
"""
from __future__ import annotations

from pathlib import Path

import psycopg
import structlog
from yoyo import get_backend, read_migrations

log = structlog.get_logger(__name__)

ROOT = Path(__file__).resolve().parent.parent
_LOCK_KEY = 0x61727469636C6573 & 0x7FFFFFFFFFFFFFFF  # "articles", a stable bigint key


def migration_dirs() -> list[str]:
    """Every feature's migrations folder, found by layout rather than by name."""
    return sorted(str(p) for p in ROOT.glob("features/*/migrations") if any(p.glob("*.sql")))


def migration_ids() -> list[str]:
    return [m.id for m in read_migrations(*migration_dirs())]


def _yoyo_url(url: str) -> str:
    _, rest = url.split("://", 1)
    return f"postgresql+psycopg://{rest}"


def apply_migrations(url: str) -> list[str]:
    """Apply pending migrations; returns the ids applied. Blocking: call from a worker thread."""
    with psycopg.connect(url, autocommit=True) as lock_conn:
        lock_conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            backend = get_backend(_yoyo_url(url))
            try:
                migrations = read_migrations(*migration_dirs())
                with backend.lock():
                    pending = backend.to_apply(migrations)
                    backend.apply_migrations(pending)
                applied = [m.id for m in pending]
            finally:
                backend.connection.close()
        finally:
            lock_conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    if applied:
        log.info("migrations_applied", ids=applied)
    return applied


PENDING_SQL = """
    SELECT count(*) FROM unnest(%(ids)s::text[]) AS wanted(id)
    WHERE NOT EXISTS (SELECT 1 FROM _yoyo_migration m WHERE m.migration_id = wanted.id)
"""


async def pending_count(conn: psycopg.AsyncConnection, ids: list[str]) -> int:
    """How many of `ids` are not applied yet (the readiness check)."""
    try:
        cur = await conn.execute(PENDING_SQL, {"ids": ids})
    except psycopg.errors.UndefinedTable:
        return len(ids)
    row = await cur.fetchone()
    return int(row[0]) if row else len(ids)


def main() -> None:
    from .embedded import database_url
    from .logging import configure_logging
    from .settings import load_settings

    settings = load_settings()
    configure_logging(settings)
    applied = apply_migrations(database_url(settings))
    print(f"{len(applied)} migration(s) applied")


if __name__ == "__main__":
    main()
