"""GET /articles: newest first, keyset pages with an opaque cursor and a Link header."""
from __future__ import annotations

import base64
import re

import pytest

from features.articles import cursor


async def walk(client, limit: int, between=None, last: int | None = None) -> list[int]:
    """Every id on every page, following next_cursor; `between` runs before each next page.

    With `last`, stops one page after the page holding that id (the session's table may hold
    many older articles made by other tests; nothing of ours can follow it).
    """
    ids: list[int] = []
    url = f"/articles?limit={limit}"
    pages_after_last = 0
    for _ in range(10_000):
        response = await client.get(url)
        assert response.status_code == 200
        page = response.json()
        assert len(page["items"]) <= limit
        ids += [item["id"] for item in page["items"]]
        if page["next_cursor"] is None:
            assert "link" not in response.headers
            return ids
        match = re.fullmatch(r'<([^>]+)>; rel="next"', response.headers["link"])
        assert match is not None
        url = match.group(1)
        assert f"cursor={page['next_cursor']}" in url
        if last is not None and last in ids:
            pages_after_last += 1
            if pages_after_last > 1:
                return ids
        if between is not None:
            await between()
    raise AssertionError("pagination never ended")


async def test_newest_first(client, make_article):
    made = [await make_article() for _ in range(3)]
    response = await client.get("/articles?limit=100")
    ids = [item["id"] for item in response.json()["items"]]
    mine = [i for i in ids if i in {a["id"] for a in made}]
    assert mine == [a["id"] for a in reversed(made)]


async def test_default_limit_is_20_and_link_points_to_next_page(client, make_article):
    for _ in range(21):
        await make_article()
    response = await client.get("/articles")
    page = response.json()
    assert len(page["items"]) == 20 and page["next_cursor"]
    assert response.headers["link"] == (
        f'</articles?limit=20&cursor={page["next_cursor"]}>; rel="next"'
    )
    second = await client.get(f"/articles?cursor={page['next_cursor']}")
    first_ids = {item["id"] for item in page["items"]}
    assert second.status_code == 200
    assert first_ids.isdisjoint(item["id"] for item in second.json()["items"])


async def test_walking_all_pages_sees_each_article_once_while_new_ones_arrive(
    client, make_article
):
    made = [(await make_article())["id"] for _ in range(12)]
    added: list[int] = []

    async def insert_one() -> None:
        added.append((await make_article())["id"])

    ids = await walk(client, limit=5, between=insert_one, last=made[0])
    assert len(ids) == len(set(ids))
    assert [i for i in ids if i in made] == made[::-1]  # each once, newest first
    assert len(added) >= 3  # inserts really happened during the walk


async def test_walk_reaches_the_last_page(client, make_article):
    await make_article()
    ids = await walk(client, limit=100)
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("limit", ["0", "101", "-1", "x", "1.5", ""])
async def test_bad_limit_is_422(client, limit):
    response = await client.get(f"/articles?limit={limit}")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "limit"]


async def test_limit_bounds_are_accepted(client, make_article):
    await make_article()
    assert (await client.get("/articles?limit=1")).status_code == 200
    assert (await client.get("/articles?limit=100")).status_code == 200


def tampered(good: str) -> list[str]:
    raw = bytearray(base64.urlsafe_b64decode(good + "=" * (-len(good) % 4)))
    raw[5] ^= 1  # inside the timestamp: the checksum no longer fits
    flipped = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    return [flipped, good[:-1], good + "A", good[:-1] + ("A" if good[-1] != "A" else "B")]


async def test_tampered_or_garbage_cursor_is_422_never_500(client, make_article):
    for _ in range(2):
        await make_article()
    good = (await client.get("/articles?limit=1")).json()["next_cursor"]
    bad = [*tampered(good), "garbage", "%00", "é" * 10, "====", "A" * 32, "A" * 5000, ""]
    for value in bad:
        response = await client.get("/articles", params={"cursor": value})
        assert response.status_code == 422, value
        assert response.json()["detail"][0]["loc"] == ["query", "cursor"]


async def test_well_formed_but_out_of_range_cursor_is_422(client):
    forged = cursor._LAYOUT.pack(1, 2**62, 5)
    value = base64.urlsafe_b64encode(forged + cursor._check(forged)).rstrip(b"=").decode()
    response = await client.get("/articles", params={"cursor": value})
    assert response.status_code == 422
