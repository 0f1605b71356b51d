"""Logs of a real `uvicorn app:app`: one JSON object per line, one access line per request with
its fields, uvicorn's own lines through the same pipeline, and no secret, body or SQL value."""
from __future__ import annotations

import json
import socket
import uuid

import httpx
import pytest

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
