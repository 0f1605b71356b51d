"""A real `uvicorn app:app`: EXTERNAL_ALLOW_PRIVATE is logged loudly, and SIGTERM stops the
feed scheduler and the client cleanly. Runs on a fresh empty database, so the server's
scheduler has no feed it could fetch."""
from __future__ import annotations

import json

import pytest

from core.migrations import apply_migrations
from tests.live import GRACEFUL, live_server, server_env
from tests.servers import create_database, drop_database


@pytest.fixture
def empty_db(pg_admin_url: str):
    url = create_database(pg_admin_url)
    apply_migrations(url)
    yield url
    drop_database(pg_admin_url, url)


def events(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def test_allow_private_is_a_warning_at_start_up_and_shutdown_is_clean(tmp_path, empty_db):
    with live_server(tmp_path, server_env(empty_db, EXTERNAL_ALLOW_PRIVATE="true")) as server:
        assert server.stop() in GRACEFUL
    logged = events(server.stdout())
    warning = [e for e in logged if e["event"] == "external_allow_private_enabled"]
    assert len(warning) == 1 and warning[0]["level"] == "warning"
    assert "feed_scheduler_stopped" in [e["event"] for e in logged]
    assert not [e for e in logged if e["level"] in ("error", "critical")]


def test_no_warning_when_private_addresses_are_refused(tmp_path, empty_db):
    with live_server(tmp_path, server_env(empty_db)) as server:
        assert server.stop() in GRACEFUL
    assert "external_allow_private_enabled" not in server.stdout()
