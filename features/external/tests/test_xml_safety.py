"""XML bombs and external entities are inert (issue 17, point 4): refused, never expanded,
never read, never fetched."""
from __future__ import annotations

import tracemalloc

import httpx
import pytest

from conftest import AUTH
from features.external.errors import UnsafeXml
from features.external.parse import parse_feed

from .conftest import RSS_TYPE
from .feedserver import FeedServer, Reply

ITEM = ("<rss version='2.0'><channel><title>t</title><item><guid>{unique}</guid>"
        "<title>Bomb {unique}</title><description>{body}</description></item></channel></rss>")


def billion_laughs(unique: str) -> bytes:
    levels = ["<!ENTITY lol0 'lol'>"] + [
        f"<!ENTITY lol{n} '{f'&lol{n - 1};' * 10}'>" for n in range(1, 10)
    ]
    return (f"<?xml version='1.0'?><!DOCTYPE rss [{''.join(levels)}]>"
            + ITEM.format(unique=unique, body="&lol9;")).encode()


def quadratic_blowup(unique: str) -> bytes:
    return (f"<?xml version='1.0'?><!DOCTYPE rss [<!ENTITY a '{'a' * 50_000}'>]>"
            + ITEM.format(unique=unique, body="&a;" * 5_000)).encode()


def external_entity(unique: str, target: str) -> bytes:
    return (f"<?xml version='1.0'?><!DOCTYPE rss [<!ENTITY ext SYSTEM '{target}'>]>"
            + ITEM.format(unique=unique, body="&ext;")).encode()


async def post_import(client: httpx.AsyncClient, url: str) -> httpx.Response:
    return await client.post("/external/imports", json={"url": url}, headers=AUTH)


async def stored_titles(client: httpx.AsyncClient, unique: str) -> list[str]:
    async with client.app.state.pool.connection() as db:  # type: ignore[attr-defined]
        cur = await db.execute("SELECT body FROM articles WHERE title LIKE %s", (f"%{unique}",))
        return [row[0] for row in await cur.fetchall()]


@pytest.mark.parametrize("bomb", [billion_laughs, quadratic_blowup])
async def test_an_xml_bomb_is_422(importer, feeds: FeedServer, unique, bomb) -> None:
    url = feeds.route("/bomb.xml", Reply(body=bomb(unique), headers=RSS_TYPE))
    response = await post_import(importer, url)
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["type"] == "unsafe_xml" and "unsafe XML" in error["msg"]
    assert await stored_titles(importer, unique) == []


@pytest.mark.parametrize("bomb", [billion_laughs, quadratic_blowup])
def test_refusing_a_bomb_takes_bounded_memory(bomb) -> None:
    document = bomb("u")
    tracemalloc.start()
    try:
        with pytest.raises(UnsafeXml):
            parse_feed(document, "application/rss+xml")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5 * len(document) + 1_000_000


async def test_an_external_entity_to_loopback_is_never_fetched(
    importer, feeds: FeedServer, unique
) -> None:
    secret = feeds.route("/secret", Reply(body=b"secret-text"))
    url = feeds.route("/xxe.xml", Reply(body=external_entity(unique, secret), headers=RSS_TYPE))
    response = await post_import(importer, url)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["type"] == "unsafe_xml"
    assert feeds.hits("/secret") == 0
    assert await stored_titles(importer, unique) == []


async def test_an_external_parameter_entity_is_inert(importer, feeds: FeedServer, unique):
    """A DTD's entity set (XHTML Latin-1 style) is allowed but never fetched."""
    entities = feeds.route("/lat1.ent", Reply(body=b"<!ENTITY ext 'from the entity set'>"))
    body = (f"<?xml version='1.0'?><!DOCTYPE rss [<!ENTITY % lat1 PUBLIC '-//x//EN' "
            f"'{entities}'> %lat1;]>" + ITEM.format(unique=unique, body="plain")).encode()
    url = feeds.route("/pe.xml", Reply(body=body, headers=RSS_TYPE))
    response = await post_import(importer, url)
    assert response.status_code == 200, response.text
    assert feeds.hits("/lat1.ent") == 0
    assert "from the entity set" not in "".join(await stored_titles(importer, unique))


def test_an_internal_parameter_entity_is_refused() -> None:
    body = ("<?xml version='1.0'?><!DOCTYPE rss [<!ENTITY % pe '<!ENTITY x \"y\">'> %pe;]>"
            + ITEM.format(unique="u", body="&x;")).encode()
    with pytest.raises(UnsafeXml, match="parameter entity"):
        parse_feed(body, "application/rss+xml")


async def test_an_external_entity_to_a_file_is_never_read(importer, feeds, unique) -> None:
    body = external_entity(unique, "file:///etc/passwd")
    url = feeds.route("/passwd.xml", Reply(body=body, headers=RSS_TYPE))
    response = await post_import(importer, url)
    assert response.status_code == 422, response.text
    assert "root:" not in response.text
    assert await stored_titles(importer, unique) == []


async def test_an_external_dtd_is_not_fetched(importer, feeds: FeedServer, unique) -> None:
    dtd = feeds.route("/rss.dtd", Reply(body=b"<!ENTITY ext 'from the dtd'>"))
    body = (f"<?xml version='1.0'?><!DOCTYPE rss SYSTEM '{dtd}'>"
            + ITEM.format(unique=unique, body="plain text")).encode()
    url = feeds.route("/dtd.xml", Reply(body=body, headers=RSS_TYPE))
    response = await post_import(importer, url)
    assert response.status_code == 200, response.text
    assert feeds.hits("/rss.dtd") == 0


def test_a_small_internal_entity_still_works() -> None:
    body = ("<?xml version='1.0'?><!DOCTYPE rss [<!ENTITY site 'Example'>]>"
            + ITEM.format(unique="u", body="About &site;")).encode()
    [item] = parse_feed(body, "application/rss+xml")
    assert item.body == "About Example"
