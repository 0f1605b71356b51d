"""DATABASE_URL unset: the app starts an embedded PostgreSQL under its data folder and stops it
when the app stops (not only at interpreter exit, which reload workers skip)."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import httpx

from app import create_app
from tests.servers import make_settings_without_database


async def test_embedded_server_lives_as_long_as_the_app():
    data = Path(tempfile.mkdtemp(prefix="articles-test-embedded-"))
    try:
        app = create_app(make_settings_without_database(data_dir=str(data)))
        async with app.router.lifespan_context(app):
            pid_file = data / "pg" / "postmaster.pid"
            assert pid_file.exists()
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                ready = await client.get("/health/ready")
                assert ready.status_code == 200, ready.text
        assert not pid_file.exists(), "embedded PostgreSQL still running after shutdown"
    finally:
        shutil.rmtree(data, ignore_errors=True)
