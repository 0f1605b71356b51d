"""Bad configuration fails at start-up with one line naming the variable."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DB_POOL_MAX_SIZE", "lots"),
        ("CORS_ORIGINS", "*"),
        ("RATE_LIMIT_DEFAULT", "fast"),
        ("TRUSTED_PROXIES", "not-an-ip"),
        ("DATABASE_URL", "mysql://x"),
    ],
)
def test_bad_value_exits_with_one_line_naming_it(variable, value, tmp_path):
    assert_refused({variable: value}, variable)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"DB_STATEMENT_TIMEOUT": "10", "DB_CLIENT_TIMEOUT": "5"}, "DB_CLIENT_TIMEOUT"),
        ({"DB_POOLER": "transaction", "MIGRATE_ON_START": "true"}, "DB_POOLER=transaction"),
        ({"DB_POOLER": "session"}, "DB_POOLER"),
    ],
)
def test_inconsistent_database_settings_exit_naming_them(env, named):
    """The client deadline must leave the server's own cancellation room to come first, and
    migrations cannot run through a transaction pooler (their lock is a session's)."""
    assert_refused(env, named)


def test_moving_window_needs_redis():
    """limits' in-process storage never drops a client's moving window once it has one."""
    assert_refused({"RATE_LIMIT_STRATEGY": "moving-window", "RATE_LIMIT_STORAGE_URL": "memory://"},
                   "RATE_LIMIT_STRATEGY=moving-window")


def assert_refused(variables: dict[str, str], named: str) -> None:
    env = {**os.environ, **variables}
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    result = subprocess.run(
        [sys.executable, "-c", "import app"], cwd=root, env=env,
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"configuration error: {named}"), lines
