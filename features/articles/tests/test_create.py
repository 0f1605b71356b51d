"""POST /articles: 201 with Location and ETag, validation, auth, slug uniqueness."""
from __future__ import annotations

import asyncio
import json

import pytest

from conftest import AUTH

from .conftest import lock_waiters, wait_for


def payload(unique: str, **fields):
    return {"title": f"Hello {unique}", "slug": f"hello-{unique}", "body": "Some text", **fields}


async def test_create_is_201_with_location_and_etag(client, unique, db):
    response = await client.post("/articles", json=payload(unique), headers=AUTH)
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {
        "id", "title", "slug", "body", "created_at", "updated_at", "source_url", "published_at"
    }
    assert body["slug"] == f"hello-{unique}" and body["title"] == f"Hello {unique}"
    assert (body["source_url"], body["published_at"]) == (None, None)
    assert response.headers["location"] == f"/articles/{body['id']}"
    assert response.headers["etag"].startswith('"') and response.headers["etag"].endswith('"')
    cur = await db.execute("SELECT title, body FROM articles WHERE id = %s", (body["id"],))
    assert await cur.fetchone() == (f"Hello {unique}", "Some text")
    fetched = await client.get(response.headers["location"])
    assert fetched.json() == body and fetched.headers["etag"] == response.headers["etag"]


async def test_create_without_or_with_wrong_key_is_401(client, unique, db):
    missing = await client.post("/articles", json=payload(unique))
    wrong = await client.post(
        "/articles", json=payload(unique), headers={"Authorization": "Bearer nope"}
    )
    for response in (missing, wrong):
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
    cur = await db.execute("SELECT count(*) FROM articles WHERE slug = %s", (f"hello-{unique}",))
    assert await cur.fetchone() == (0,)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("title", ""),
        ("title", "   \t"),
        ("title", "x" * 121),
        ("slug", ""),
        ("slug", "Upper-Case"),
        ("slug", "under_score"),
        ("slug", "a" * 121),
        ("body", ""),
        ("body", "x" * 100_001),
        ("title", 5),
    ],
)
async def test_invalid_field_is_422(client, unique, field, value):
    response = await client.post("/articles", json=payload(unique, **{field: value}), headers=AUTH)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", field]


@pytest.mark.parametrize(
    "title",
    ["\u200b", "\u200e\u200f", "\ufeff", "\u2800", "\u3164", "\u00ad", "\u200b \u2060\u200d"],
    ids=["zero-width space", "LTR+RTL marks", "BOM", "Braille blank", "Hangul filler",
         "soft hyphen", "mixed"],
)
async def test_a_title_of_invisible_characters_is_422(client, unique, title):
    response = await client.post("/articles", json=payload(unique, title=title), headers=AUTH)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "title"]
    assert "visible" in response.json()["detail"][0]["msg"]


async def test_a_title_with_one_visible_character_among_invisible_ones_is_kept(client, unique):
    response = await client.post(
        "/articles", json=payload(unique, title="\u200bé\u200d"), headers=AUTH
    )
    assert response.status_code == 201
    assert response.json()["title"] == "\u200bé\u200d"


async def test_limits_are_inclusive(client, unique):
    response = await client.post(
        "/articles",
        json=payload(unique, title="t" * 120, slug=f"{unique}-" + "a" * (119 - len(unique)),
                     body="b" * 100_000),
        headers=AUTH,
    )
    assert response.status_code == 201
    assert len(response.json()["body"]) == 100_000


async def test_unknown_and_missing_fields_are_422(client, unique):
    extra = await client.post("/articles", json=payload(unique, author="me"), headers=AUTH)
    assert extra.status_code == 422 and extra.json()["detail"][0]["loc"] == ["body", "author"]
    missing = await client.post("/articles", json={"title": "t", "slug": unique}, headers=AUTH)
    assert missing.status_code == 422 and missing.json()["detail"][0]["loc"] == ["body", "body"]


@pytest.mark.parametrize("field", ["title", "slug", "body"])
@pytest.mark.parametrize("bad", ["a\u0000b", "a\ud800b"])
async def test_nul_or_lone_surrogate_is_422_and_never_stored(client, unique, db, field, bad):
    # json.dumps escapes both as \u0000 / \ud800, which is how a client would send them.
    content = json.dumps(payload(unique, **{field: bad}))
    response = await client.post(
        "/articles", content=content, headers={**AUTH, "Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", field]
    cur = await db.execute("SELECT count(*) FROM articles WHERE slug = %s", (f"hello-{unique}",))
    assert await cur.fetchone() == (0,)


async def test_duplicate_slug_is_409(client, unique, make_article):
    first = await make_article(slug=f"taken-{unique}")
    response = await client.post(
        "/articles", json=payload(unique, slug=f"taken-{unique}"), headers=AUTH
    )
    assert response.status_code == 409
    assert response.json()["detail"] == "Slug already taken"
    assert (await client.get(f"/articles/{first['id']}")).json()["title"] == first["title"]


async def test_concurrent_posts_with_one_slug_give_one_201_and_one_409(client, unique, db):
    slug = f"race-{unique}"
    # Hold the slug in an open transaction so both requests reach the unique index and wait;
    # releasing it lets them race for real.
    async with await type(db).connect(db.info.dsn, autocommit=False) as blocker:
        await blocker.execute(
            "INSERT INTO articles (title, slug, body) VALUES ('b', %s, 'b')", (slug,)
        )
        requests = [
            asyncio.ensure_future(
                client.post("/articles", json=payload(unique, slug=slug, title=f"T{n}"),
                            headers=AUTH)
            )
            for n in range(2)
        ]
        await wait_for(lambda: _both_waiting(db))
        await blocker.rollback()
        responses = await asyncio.gather(*requests)
    assert sorted(r.status_code for r in responses) == [201, 409]
    cur = await db.execute("SELECT count(*) FROM articles WHERE slug = %s", (slug,))
    assert await cur.fetchone() == (1,)


async def _both_waiting(db) -> bool:
    return await lock_waiters(db, "INSERT INTO articles") >= 2
