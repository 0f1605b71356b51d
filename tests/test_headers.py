"""Numbers in header values: ASCII digits only, bounded, never an exception."""
from __future__ import annotations

import json

import httpx
import pytest

from core.headers import CAP, header_int
from features.external.fetch import retry_after
from tests.probes import add_probe_routes


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0", 0), ("120", 120), (b"1048576", 1_048_576), (" 7 ", 7), ("9" * 18, int("9" * 18)),
     ("9" * 5000, CAP), ("²", None), ("١٢", None), ("12a", None), ("-1", None), ("", None),
     ("+5", None), ("1.5", None), (b"\xb2", None)],
)
def test_header_int(value, expected):
    assert header_int(value) == expected


def test_retry_after_takes_ascii_seconds_or_a_date_and_nothing_else():
    assert retry_after(httpx.Headers({"Retry-After": "120"})) == 120.0
    assert retry_after(httpx.Headers({"Retry-After": "²".encode()})) is None
    assert retry_after(httpx.Headers({"Retry-After": "9" * 5000})) == float(CAP)
    assert retry_after(httpx.Headers({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})) == 0.0


@pytest.mark.parametrize(
    ("length", "status"), [(b"9" * 5000, 413), ("²".encode(), 400), (b"1e3", 400)]
)
async def test_hostile_content_length_is_a_4xx_in_the_error_shape(make_client, length, status):
    client = await make_client(app_hook=add_probe_routes)
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/_probe/echo", "raw_path": b"/_probe/echo",
        "query_string": b"", "root_path": "", "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
        "headers": [(b"host", b"testserver"), (b"content-type", b"application/json"),
                    (b"content-length", length)],
    }
    await client.app(scope, receive, send)  # type: ignore[attr-defined]
    start, body = sent[0], json.loads(b"".join(m.get("body", b"") for m in sent[1:]))
    assert start["status"] == status
    assert body["request_id"] == dict(start["headers"])[b"x-request-id"].decode()


@pytest.mark.parametrize(
    ("request_kwargs", "status"),
    [
        ({"headers": {"X-Big": "a" * 40_000}}, 431),
        ({"headers": {f"X-Many-{n}": "b" * 100 for n in range(400)}}, 431),
        ({"params": {"q": "c" * 40_000}}, 414),
    ],
    ids=["one-big-header", "many-headers", "long-target"],
)
async def test_oversized_request_head_is_refused_in_the_error_shape(
    make_client, request_kwargs, status
):
    """uvicorn's httptools parser takes a header of any size; the app refuses one past
    MAX_HEADER_BYTES before routing (a route's handler never sees it). Fails when: the limit is
    not applied (tried: 200 from the health route, 422 from search)."""
    client = await make_client()
    for path in ("/health/live", "/search"):
        response = await client.get(path, **request_kwargs)
        assert response.status_code == status, (path, response.text[:200])
        assert response.json()["request_id"] == response.headers["x-request-id"]
    assert (await client.get("/health/live", headers={"X-Fine": "d" * 8_000})).status_code == 200


async def test_max_header_bytes_is_a_setting(make_client):
    client = await make_client(max_header_bytes=2_000)
    assert (await client.get("/health/live", headers={"X-Big": "a" * 3_000})).status_code == 431
