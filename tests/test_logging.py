"""Logs of a real `uvicorn app:app`: one JSON object per line, one access line per request with
its fields, uvicorn's own lines through the same pipeline, and no secret, body or SQL value;
and access lines written in batches (core/access.py)."""
from __future__ import annotations

import asyncio
import json
import os
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import httpx
import pytest
import structlog

from app import create_app
from conftest import make_settings
from core.access import BATCH, FLUSH_AFTER, AccessLog
from core.logging import _SHARED
from tests.live import GRACEFUL, live_server, server_env

ACCESS_FIELDS = {"request_id", "method", "route", "status", "duration_ms"}


@pytest.fixture
def secret() -> str:
    # Lowercase hex, so it also fits a slug: a unique-violation on it must not reach the log.
    return "k" + uuid.uuid4().hex + uuid.uuid4().hex


def send_traffic(url: str, secret: str) -> int:
    """Requests that carry the key everywhere a client might put it; returns how many."""
    good = {"Authorization": f"Bearer {secret}"}
    bad = {"Authorization": f"Bearer {secret}-wrong"}
    article = {"title": f"title {secret}", "slug": secret, "body": f"body {secret}"}
    with httpx.Client(base_url=url, trust_env=False) as http:
        answers = [
            http.get("/health/live", headers=good),
            http.get("/health/ready", params={"api_key": secret}),
            http.post("/articles", headers=good, json=article),
            http.post("/articles", headers=good, json=article),  # 409: slug taken
            http.post("/articles", headers=bad, json=article),
            http.post("/articles", json={"title": secret}),
            http.post("/articles", headers=good, json={"title": secret, "extra": secret}),
            http.post("/articles", headers=good, content=f"{{not json {secret}"),
            http.get(f"/articles/by-slug/{secret}", headers={"X-Api-Key": secret}),
            http.get(f"/articles/{secret}"),
        ]
    statuses = [r.status_code for r in answers]
    assert statuses[:5] == [200, 200, 201, 409, 401], statuses
    assert all(s < 500 for s in statuses), statuses
    return len(answers)


def send_garbage(port: int, secret: str) -> None:
    """Bytes that are not HTTP: uvicorn itself answers 400 and logs a warning."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(f"NOT HTTP {secret}\r\nAuthorization: Bearer {secret}\r\n\r\n".encode())
        assert sock.recv(1024).startswith(b"HTTP/1.1 400")


def test_logs_are_json_lines_with_access_fields_and_no_secret(pg_url, tmp_path, secret):
    env = server_env(pg_url, API_KEYS=f"{secret},another-key-{uuid.uuid4().hex}")
    with live_server(tmp_path, env) as server:
        sent = send_traffic(server.url, secret)
        send_garbage(server.port, secret)
        assert server.stop() in GRACEFUL
        stdout, stderr = server.stdout(), server.stderr()

    lines = [json.loads(line) for line in stdout.splitlines()]  # every line parses
    assert lines and all(isinstance(line, dict) for line in lines)
    assert all({"event", "level", "timestamp"} <= set(line) for line in lines)

    access = [line for line in lines if line["event"] == "request_finished"]
    assert all(ACCESS_FIELDS <= set(line) for line in access)
    assert len({line["request_id"] for line in access}) == len(access)  # one line per request
    # Every request of send_traffic but its one GET /health/live (the helper's start-up polls
    # are /health/live too, and how many it needed depends on the machine's load).
    assert len([line for line in access if line["route"] != "/health/live"]) == sent - 1
    assert {"/health/live", "/health/ready", "/articles", "/articles/{article_id}"} <= {
        line["route"] for line in access
    }
    assert {line["status"] for line in access} >= {200, 201, 401, 409, 422}

    events = [line["event"] for line in lines]
    assert any(e.startswith("Uvicorn running on http://127.0.0.1:") for e in events)
    assert "Invalid HTTP request received." in events  # uvicorn's error log, as JSON
    assert "service_started" in events and "service_stopped" in events
    assert not any("color_message" in line for line in lines)
    assert not any(e.startswith(("GET ", "POST ")) or '" 200' in e for e in events), (
        "uvicorn's access log is on"
    )

    for output in (stdout, stderr):
        assert secret not in output
        assert "authorization" not in output.lower() and "bearer" not in output.lower()
        assert "INSERT" not in output and "SELECT" not in output


@contextmanager
def kept_events() -> Iterator[list[dict[str, Any]]]:
    """structlog's configuration with the service's own processors up to the renderer, each
    event kept in the list instead of rendered (nothing cached: no logger outlives it)."""
    kept: list[dict[str, Any]] = []

    def keep(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        kept.append(event_dict)
        raise structlog.DropEvent

    old = structlog.get_config()
    structlog.configure(processors=[*_SHARED, keep], cache_logger_on_first_use=False)
    try:
        yield kept
    finally:
        structlog.configure(**old)


@pytest.fixture
def written() -> Iterator[list[dict[str, Any]]]:
    with kept_events() as kept:
        yield kept


async def test_access_lines_are_noted_then_written_a_batch_at_a_time(written):
    """A full batch is written at once, each line with its own request id and time, and no
    value bound in the context of the request that happened to complete the batch."""
    access = AccessLog()
    before = time.time()
    with structlog.contextvars.bound_contextvars(request_id="someone-else", marker="leak"):
        for n in range(BATCH - 1):
            access.record(f"id-{n}", "GET", "/articles/{article_id}", 200, 0.00123)
        assert written == []  # noted only
        access.record("last", "GET", "/articles", 404, 0.002)
    after = time.time()
    assert [line["request_id"] for line in written] == [f"id-{n}" for n in range(BATCH - 1)] + [
        "last"
    ]
    assert not any("marker" in line for line in written)
    assert written[0] | {"timestamp": None} == {
        "event": "request_finished", "level": "info", "timestamp": None,
        "request_id": "id-0", "method": "GET", "route": "/articles/{article_id}",
        "status": 200, "duration_ms": 1.23,
    }
    stamps = [datetime.fromisoformat(line["timestamp"]).timestamp() for line in written]
    assert all(line["timestamp"].endswith("Z") for line in written)
    assert before - 0.001 <= stamps[0] <= stamps[-1] <= after + 0.001
    assert access.timer is None and access.pending == []


async def test_a_lone_access_line_is_written_within_the_flush_delay(written):
    access = AccessLog()
    access.record("alone", "GET", "/health/live", 200, 0.001)
    assert written == [] and access.timer is not None
    loop = asyncio.get_running_loop()
    assert access.timer.when() - loop.time() <= FLUSH_AFTER
    reached = loop.create_future()
    loop.call_at(access.timer.when() + 0.001, reached.set_result, None)
    await reached  # the loop has run past the flush's time
    assert [line["request_id"] for line in written] == ["alone"]


def test_an_event_that_brings_its_timestamp_keeps_it(written):
    structlog.get_logger().info("stamped", timestamp="2026-01-02T03:04:05.000006Z")
    structlog.get_logger().info("unstamped")
    assert written[0]["timestamp"] == "2026-01-02T03:04:05.000006Z"
    assert written[1]["timestamp"].endswith("Z") and written[1]["timestamp"][:4] >= "2026"


async def test_an_app_that_stops_writes_its_pending_lines(pg_url):
    app = create_app(make_settings(pg_url))
    with kept_events() as written:  # after create_app, which configures logging
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                response = await client.get("/health/live")
            assert app.state.access_log.pending  # noted, not yet written
        access = [line for line in written if line["event"] == "request_finished"]
    assert [line["request_id"] for line in access] == [response.headers["x-request-id"]]


def test_lines_noted_on_a_loop_that_has_stopped_are_written_by_the_next_request(written):
    """A loop that closes (a test client without `with`, one loop per request) never runs
    the flush it was given: the next request, on another loop, writes what waited."""
    access = AccessLog()

    async def request(request_id: str) -> None:
        access.record(request_id, "GET", "/health/live", 200, 0.001)

    asyncio.run(request("first"))  # closes its loop with the flush still scheduled
    assert written == []
    asyncio.run(request("second"))
    assert [line["request_id"] for line in written] == ["first", "second"]


def test_a_closed_stdout_loses_the_lines_not_the_request():
    stdout = open(os.devnull, "wb")
    access = AccessLog()
    access.log = structlog.wrap_logger(structlog.BytesLogger(stdout))
    stdout.close()
    access.pending.append((time.time(), "x", "GET", "/", 200, 0.0))
    access.flush()  # no exception reaches the request or the shutdown that flushed
    assert access.pending == []
