"""HEAD answers as GET without a body, on every GET route (RFC 9110 9.3.2)."""
from __future__ import annotations

from conftest import AUTH


async def test_head_is_get_without_its_body(client, unique):
    created = await client.post(
        "/articles", json={"title": "Head", "slug": f"head-{unique}", "body": "b" * 500},
        headers=AUTH,
    )
    article_id = created.json()["id"]
    for path in (f"/articles/{article_id}", f"/articles/by-slug/head-{unique}", "/articles",
                 "/health/live", "/openapi.json", f"/search?q={unique}"):
        got, head = await client.get(path), await client.head(path)
        assert head.status_code == got.status_code == 200, path
        assert head.content == b"", path
        same = {"content-length", "content-type", "etag", "link", "x-ratelimit-limit"}
        assert {k: v for k, v in head.headers.items() if k in same} == {
            k: v for k, v in got.headers.items() if k in same
        }, path
        assert head.headers["x-request-id"] != got.headers["x-request-id"]


async def test_head_with_if_none_match_is_304(client, unique):
    created = await client.post(
        "/articles", json={"title": "Head", "slug": f"h304-{unique}", "body": "b"}, headers=AUTH
    )
    response = await client.head(
        f"/articles/{created.json()['id']}", headers={"If-None-Match": created.headers["etag"]}
    )
    assert response.status_code == 304


async def test_head_counts_once_against_the_limit(make_client):
    client = await make_client(peer="192.0.2.77", rate_limit_default="3/minute")
    remaining = []
    for send in (client.get, client.head, client.get):
        response = await send("/articles?limit=1")
        remaining.append(response.headers["x-ratelimit-remaining"])
    assert remaining == ["2", "1", "0"]
    assert (await client.head("/articles?limit=1")).status_code == 429


async def test_head_on_a_route_without_get_is_405(client):
    response = await client.head("/external/imports")
    assert response.status_code == 405
    assert "POST" in response.headers["allow"]
