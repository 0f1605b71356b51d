"""POST/GET/DELETE /external/feeds: registering feeds for scheduled refresh."""
from __future__ import annotations

from conftest import AUTH

from .conftest import loopback_only
from .feedserver import FeedServer


async def register(client, url: str, **extra: object):
    return await client.post("/external/feeds", json={"url": url, **extra}, headers=AUTH)


async def test_a_feed_is_registered_listed_fetched_and_deleted(importer, feeds: FeedServer):
    url = feeds.url("/feed.xml")
    created = await register(importer, url, interval_minutes=15)
    assert created.status_code == 201, created.text
    feed = created.json()
    assert created.headers["location"] == f"/external/feeds/{feed['id']}"
    assert (feed["url"], feed["interval_minutes"], feed["failures"]) == (url, 15, 0)
    assert feed["last_import"] is None
    listed = (await importer.get("/external/feeds", params={"limit": 100})).json()
    assert feed["id"] in [f["id"] for f in listed["items"]]
    assert (await importer.get(f"/external/feeds/{feed['id']}")).json() == feed
    assert (await importer.delete(f"/external/feeds/{feed['id']}", headers=AUTH)).status_code == 204
    assert (await importer.get(f"/external/feeds/{feed['id']}")).status_code == 404
    assert (await importer.delete(f"/external/feeds/{feed['id']}", headers=AUTH)).status_code == 404


async def test_registering_a_feed_twice_is_409(importer, feeds):
    assert (await register(importer, feeds.url("/twice.xml"))).status_code == 201
    again = await register(importer, feeds.url("/twice.xml"))
    assert again.status_code == 409
    assert again.json()["detail"] == "Feed already registered"


async def test_default_interval_is_an_hour_and_bounds_are_5_to_1440(importer, feeds):
    assert (await register(importer, feeds.url("/d.xml"))).json()["interval_minutes"] == 60
    for bad in (4, 1441, "often"):
        response = await register(importer, feeds.url("/b.xml"), interval_minutes=bad)
        assert response.status_code == 422


async def test_feeds_are_listed_in_pages(importer, feeds):
    ids = [(await register(importer, feeds.url(f"/p{n}.xml"))).json()["id"] for n in range(3)]
    page = {"limit": 1, "cursor": ids[0] - 1}
    first = (await importer.get("/external/feeds", params=page)).json()
    assert [f["id"] for f in first["items"]] == [ids[0]]
    assert first["next_cursor"] == str(ids[0])
    rest = (await importer.get("/external/feeds",
                               params={"limit": 2, "cursor": first["next_cursor"]})).json()
    assert [f["id"] for f in rest["items"]][:2] == ids[1:]
    assert (await importer.get("/external/feeds", params={"cursor": "x"})).status_code == 422


async def test_feed_writes_need_a_key(importer, feeds):
    response = await importer.post("/external/feeds", json={"url": feeds.url("/k")})
    assert response.status_code == 401
    assert (await importer.delete("/external/feeds/1")).status_code == 401


async def test_a_private_or_non_http_feed_url_is_refused(make_client, feeds):
    client = await make_client(app_hook=loopback_only)  # EXTERNAL_ALLOW_PRIVATE unset
    for url in (feeds.url("/feed.xml"), "http://169.254.169.254/", "ftp://93.184.216.34/f"):
        response = await register(client, url)
        assert response.status_code == 422, url
        assert response.json()["detail"][0]["type"] == "unsafe_url"
