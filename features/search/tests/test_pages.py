"""Keyset pages: limit, opaque signed cursors."""
from __future__ import annotations


async def test_cursor_walks_every_result_once_in_rank_order(api, add, word):
    made = {await add(f"Page {n}", f"{word} " * (n + 1) + "text") for n in range(5)}
    seen: list[dict] = []
    cursor = None
    for _ in range(5):
        params = {"q": word, "limit": 2} | ({"cursor": cursor} if cursor else {})
        response = await api.get("/search", params=params)
        assert response.status_code == 200
        page = response.json()
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [item["id"] for item in seen if item["id"] in made] == [item["id"] for item in seen]
    assert {item["id"] for item in seen} == made and len(seen) == 5
    keys = [(item["rank"], item["id"]) for item in seen]
    assert keys == sorted(keys, reverse=True)


async def test_tampered_or_foreign_cursor_is_422(api, add, word):
    for n in range(3):
        await add(f"Page {n}", f"{word} text")
    first = (await api.get("/search", params={"q": word, "limit": 1})).json()
    cursor = first["next_cursor"]
    assert cursor
    assert (await api.get("/search", params={"q": word, "cursor": cursor})).status_code == 200
    payload, mac = cursor.split(".")
    flipped = payload[:-1] + ("A" if payload[-1] != "A" else "B")
    for bad in [flipped + "." + mac, cursor + "x", "garbage", "a.b.c", "", "!!!.???"]:
        response = await api.get("/search", params={"q": word, "cursor": bad})
        assert response.status_code == 422, bad
        assert response.json()["detail"][0]["loc"] == ["query", "cursor"]
    other = await api.get("/search", params={"q": f"{word} text", "cursor": cursor})
    assert other.status_code == 422


async def test_limit_bounds(api, word):
    for limit in (0, 101, -1, "x"):
        response = await api.get("/search", params={"q": word, "limit": limit})
        assert response.status_code == 422
    for limit in (1, 100):
        assert (await api.get("/search", params={"q": word, "limit": limit})).status_code == 200
