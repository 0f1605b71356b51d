"""Migrations: applied in order, idempotent, safe when two instances start together."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import psycopg

from core.migrations import apply_migrations, migration_ids
from tests.servers import create_database, drop_database


def test_two_concurrent_runs_apply_each_migration_once(pg_admin_url):
    url = create_database(pg_admin_url)
    try:
        with ThreadPoolExecutor(2) as pool:
            results = list(pool.map(apply_migrations, [url, url]))
        applied = sorted(results, key=len)
        assert applied[0] == []  # the second runner found nothing left to do
        assert applied[1] == migration_ids()
        with psycopg.connect(url) as conn:
            rows = conn.execute(
                "SELECT migration_id, count(*) FROM _yoyo_migration GROUP BY 1"
            ).fetchall()
        assert sorted(r[0] for r in rows) == sorted(migration_ids())
        assert all(r[1] == 1 for r in rows)
        assert apply_migrations(url) == []
    finally:
        drop_database(pg_admin_url, url)


def test_every_feature_migration_is_found():
    ids = migration_ids()
    assert "articles_0001_create" in ids
    assert len(ids) == len(set(ids))
