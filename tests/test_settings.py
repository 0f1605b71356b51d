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
    env = {**os.environ, variable: value}
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    result = subprocess.run(
        [sys.executable, "-c", "import app"], cwd=root, env=env,
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"configuration error: {variable}:")
