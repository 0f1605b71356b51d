"""Error bodies, request ids, CORS on errors, body limits and the last-resort handler."""
from __future__ import annotations

import json

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from tests.probes import add_probe_routes

ORIGIN = "https://app.example.org"


async def probe_client(make_client, **overrides) -> httpx.AsyncClient:
    return await make_client(app_hook=add_probe_routes, cors_origins=[ORIGIN], **overrides)


async def test_unknown_route_is_json_404_with_request_id(client):
    response = await client.get("/no/such/route")
    assert response.status_code == 404
    body = response.json()
    assert body["detail"] == "Not Found"
    assert body["request_id"] == response.headers["x-request-id"]


async def test_wrong_method_is_json_405(client):
    response = await client.delete("/health/live")
    assert response.status_code == 405
    assert set(response.json()) == {"detail", "request_id"}


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [("PUT", "/articles/1", "DELETE, GET, PATCH"), ("PUT", "/articles", "GET, POST"),
     ("PATCH", "/external/feeds", "GET, POST"), ("POST", "/search", "GET")],
)
async def test_405_allow_lists_every_method_of_the_path(client, method, path, allow):
    response = await client.request(method, path)
    assert response.status_code == 405
    assert response.headers["allow"] == allow


async def test_sane_request_id_is_echoed(client):
    response = await client.get("/health/live", headers={"X-Request-ID": "abc-123.X_y"})
    assert response.headers["x-request-id"] == "abc-123.X_y"


async def test_insane_request_id_is_replaced(client):
    for bad in ["a" * 129, "has space", "semi;colon", "<script>"]:
        response = await client.get("/health/live", headers={"X-Request-ID": bad})
        rid = response.headers["x-request-id"]
        assert rid != bad and len(rid) == 32


async def test_request_id_generated_when_absent(client):
    first = await client.get("/health/live")
    second = await client.get("/health/live")
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


async def test_cors_headers_on_404_for_allowed_origin_only(make_client):
    client = await probe_client(make_client)
    allowed = await client.get("/nope", headers={"Origin": ORIGIN})
    assert allowed.status_code == 404
    assert allowed.headers["access-control-allow-origin"] == ORIGIN
    assert "x-request-id" in allowed.headers["access-control-expose-headers"].lower()
    other = await client.get("/nope", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


async def test_cors_preflight_allows_only_listed_origin(make_client):
    client = await probe_client(make_client)
    headers = {"Origin": ORIGIN, "Access-Control-Request-Method": "POST",
               "Access-Control-Request-Headers": "authorization,content-type"}
    ok = await client.options("/_probe/echo", headers=headers)
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == ORIGIN
    bad = await client.options("/_probe/echo", headers={**headers, "Origin": "https://evil.example"})
    assert bad.status_code == 400


async def test_unhandled_error_is_500_without_trace_and_with_cors(make_client):
    client = await probe_client(make_client)
    response = await client.get("/_probe/crash", headers={"Origin": ORIGIN})
    assert response.status_code == 500
    body = response.json()
    assert body == {"detail": "Server error", "request_id": response.headers["x-request-id"]}
    assert "secret-password" not in response.text and "Traceback" not in response.text
    assert response.headers["access-control-allow-origin"] == ORIGIN


async def test_the_apps_own_exception_handler_answers_inside_request_id_cors_and_log(
    make_client, capfd
):
    """The chapter's global handler: `@app.exception_handler(Exception)` replaces the default
    500 body; the request id, CORS headers and the error log line still wrap it."""

    def hook(app: FastAPI) -> None:
        add_probe_routes(app)

        @app.exception_handler(Exception)
        async def everything(request: Request, exc: Exception) -> JSONResponse:
            return JSONResponse({"oops": type(exc).__name__}, status_code=500)

    client = await make_client(app_hook=hook, cors_origins=[ORIGIN])
    capfd.readouterr()
    response = await client.get("/_probe/crash", headers={"Origin": ORIGIN})
    lines = [json.loads(line) for line in capfd.readouterr().out.splitlines() if line]
    assert response.status_code == 500
    assert response.json() == {"oops": "RuntimeError"}
    assert len(response.headers["x-request-id"]) == 32
    assert response.headers["access-control-allow-origin"] == ORIGIN
    errors = [line for line in lines if line.get("level") == "error"]
    assert [line["event"] for line in errors] == ["unhandled_error"]
    assert errors[0]["request_id"] == response.headers["x-request-id"]
    assert "secret-password-in-trace" in errors[0]["exception"]  # the trace: in the log only
    assert (await client.get("/_probe/db")).status_code == 200  # other routes untouched


async def test_debug_gives_fastapis_traceback_page(make_client, pg_url):
    from app import create_app
    from conftest import make_settings

    app = create_app(make_settings(pg_url))
    add_probe_routes(app)
    app.debug = True
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
        transport=transport, base_url="http://testserver"
    ) as client:
        response = await client.get("/_probe/crash", headers={"Accept": "text/html"})
    assert response.status_code == 500
    assert "text/html" in response.headers["content-type"]
    assert "RuntimeError" in response.text and "secret-password-in-trace" in response.text


async def test_422_is_a_list_of_loc_msg_type(make_client):
    client = await probe_client(make_client)
    response = await client.post("/_probe/echo", json={"name": "x", "count": "many", "extra": 1})
    assert response.status_code == 422
    body = response.json()
    assert body["request_id"] == response.headers["x-request-id"]
    assert {tuple(item) for item in map(sorted, body["detail"])} == {("loc", "msg", "type")}
    assert {tuple(item["loc"]) for item in body["detail"]} == {("body", "count"), ("body", "extra")}


async def test_malformed_json_is_422_not_500(make_client):
    client = await probe_client(make_client)
    response = await client.post(
        "/_probe/echo",
        content=b'{"name": "x", "count": ',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422


async def test_json_nested_10000_deep_is_422_in_the_error_shape(make_client):
    client = await probe_client(make_client)
    for body in (b"[" * 10_000 + b"]" * 10_000, b'{"a":' * 10_000 + b"1" + b"}" * 10_000):
        response = await client.post(
            "/_probe/echo", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 422
        assert response.json() == {
            "detail": [{"loc": ["body"], "msg": "Body JSON is nested too deeply",
                        "type": "json_invalid"}],
            "request_id": response.headers["x-request-id"],
        }


async def test_body_over_limit_by_content_length_is_413(make_client):
    client = await probe_client(make_client, max_body_bytes=1000)
    response = await client.post(
        "/_probe/echo", json={"name": "x" * 2000, "count": 1}, headers={"Origin": ORIGIN}
    )
    assert response.status_code == 413
    assert response.json()["request_id"] == response.headers["x-request-id"]
    assert response.headers["access-control-allow-origin"] == ORIGIN


async def test_chunked_body_over_limit_is_413_without_reading_it_whole(make_client):
    client = await probe_client(make_client, max_body_bytes=1000)
    sent = 0

    async def chunks():
        nonlocal sent
        for _ in range(1000):
            sent += 100
            yield b"x" * 100

    response = await client.post(
        "/_probe/echo", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert "content-length" not in response.request.headers
    assert sent < 5_000  # reading stopped near the limit, not after 100 KB


async def test_body_under_limit_passes(make_client):
    client = await probe_client(make_client, max_body_bytes=1000)
    response = await client.post("/_probe/echo", json={"name": "ok", "count": 2})
    assert response.status_code == 200 and response.json() == {"name": "ok", "count": 2}
