"""DELETE /articles/{id}: 204, 404 afterwards, If-Match, auth."""
from __future__ import annotations

from conftest import AUTH


async def test_delete_is_204_then_404(client, make_article, db):
    article = await make_article()
    response = await client.delete(f"/articles/{article['id']}", headers=AUTH)
    assert response.status_code == 204 and response.content == b""
    assert (await client.get(f"/articles/{article['id']}")).status_code == 404
    again = await client.delete(f"/articles/{article['id']}", headers=AUTH)
    assert again.status_code == 404 and again.json()["detail"] == "Article not found"
    cur = await db.execute("SELECT count(*) FROM articles WHERE id = %s", (article["id"],))
    assert await cur.fetchone() == (0,)


async def test_delete_with_stale_if_match_is_412_and_keeps_it(client, make_article):
    article = await make_article()
    await client.patch(f"/articles/{article['id']}", json={"body": "v2"}, headers=AUTH)
    response = await client.delete(
        f"/articles/{article['id']}", headers={**AUTH, "If-Match": article["etag"]}
    )
    assert response.status_code == 412
    assert (await client.get(f"/articles/{article['id']}")).status_code == 200


async def test_delete_with_current_if_match_is_204(client, make_article):
    article = await make_article()
    response = await client.delete(
        f"/articles/{article['id']}", headers={**AUTH, "If-Match": article["etag"]}
    )
    assert response.status_code == 204


async def test_delete_without_key_is_401(client, make_article):
    article = await make_article()
    response = await client.delete(f"/articles/{article['id']}")
    assert response.status_code == 401
    assert (await client.get(f"/articles/{article['id']}")).status_code == 200


async def test_delete_out_of_range_id_is_422(client):
    response = await client.delete(f"/articles/{2**64}", headers=AUTH)
    assert response.status_code == 422
