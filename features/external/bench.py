"""Time and peak memory to import a 5,000-item feed from loopback (goal: <= 2 s, <= 100 MB).

    .venv/bin/python -m features.external.bench [items]

The feed is served by `python -m http.server` in another process (so its memory is not
counted); the app runs in this process on TEST_DATABASE_URL's server, else an embedded
PostgreSQL, in a fresh database. Peak RSS growth is VmHWM after the import minus VmRSS before,
with the high-water mark reset first (/proc/self/clear_refs).
"""
from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from xml.sax.saxutils import escape

import httpx
import psycopg

from .scratch import importer_app, scratch_database

KEY = "bench-key"


def document(items: int) -> bytes:
    entries = "".join(
        f"<item><guid>bench-{n}</guid><link>http://example.invalid/{n}</link>"
        f"<title>Item number {n} of the benchmark feed</title><description>"
        + escape(f"<p>Paragraph <b>{n}</b> with &amp; entities and "
                 f"<a href='http://example.invalid/{n}'>a link</a>.</p>" * 4)
        + "</description></item>"
        for n in range(items)
    )
    return (f"<?xml version='1.0'?><rss version='2.0'><channel><title>Bench</title>"
            f"<link>http://example.invalid/</link><description>d</description>{entries}"
            "</channel></rss>").encode()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serving(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/feed.xml", trust_env=False).is_success
    except httpx.TransportError:
        return False


def reset_peak_rss() -> int:
    """Reset VmHWM to the current RSS (Linux); returns that RSS in kB."""
    Path("/proc/self/clear_refs").write_text("5")
    return status_kb("VmRSS")


def status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


async def import_once(database_url: str, url: str) -> tuple[float, int, dict]:
    app = importer_app(database_url, KEY, "WARNING")
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            before = reset_peak_rss()
            started = time.perf_counter()
            response = await client.post(
                "/external/imports", json={"url": url},
                headers={"Authorization": f"Bearer {KEY}"}, timeout=120,
            )
            elapsed = time.perf_counter() - started
            growth = status_kb("VmHWM") - before
    return elapsed, growth, response.json()


def main(items: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        body = document(items)
        (Path(folder) / "feed.xml").write_bytes(body)
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
             "--directory", folder], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            with scratch_database("external_bench", Path(folder)) as database_url:
                deadline = time.monotonic() + 10
                while not serving(port) and time.monotonic() < deadline:
                    time.sleep(0.05)
                run_imports(database_url, f"http://127.0.0.1:{port}/feed.xml", items, body)
        finally:
            server.terminate()
            server.wait(5)


def run_imports(database_url: str, url: str, items: int, body: bytes) -> None:
    runs = ("first import", "again: 304 not modified", "again, validators forgotten")
    for label in runs:
        if label.endswith("forgotten"):
            with psycopg.connect(database_url, autocommit=True) as conn:
                conn.execute("DELETE FROM external_fetch_state")
        elapsed, growth, result = asyncio.run(import_once(database_url, url))
        counts = {k: result.get(k) for k in ("status", "created", "unchanged", "skipped")}
        print(f"{label}: {items} items, {len(body) / 1e6:.1f} MB document, "
              f"{elapsed:.2f} s, peak RSS growth {growth / 1024:.1f} MB, {counts}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5000)
