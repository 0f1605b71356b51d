"""Discovery (issue 17, point 2): a web page's <link rel="alternate"> to a feed is followed,
under the same SSRF guard, robots rules and caps, and the answer names the feed used."""
from __future__ import annotations

from conftest import AUTH

from .conftest import RSS_TYPE, article, rss
from .feedserver import FeedServer, Reply

HTML = {"Content-Type": "text/html; charset=utf-8"}


def page(href: str, kind: str = "application/rss+xml") -> bytes:
    return (f"<!DOCTYPE html><html><head><title>Blog</title>"
            f"<link rel='stylesheet' href='/s.css'>"
            f"<link rel='alternate' type='{kind}' title='Feed' href='{href}'></head>"
            "<body><p>Welcome</p></body></html>").encode()


async def post_import(client, url: str):
    return await client.post("/external/imports", json={"url": url}, headers=AUTH)


async def test_a_website_address_imports_the_feed_it_links_to(importer, feeds: FeedServer, unique):
    feed = feeds.route("/blog/feed.xml", Reply(body=rss([{"id": unique, "title": f"P {unique}",
                                                          "body": "Text"}]), headers=RSS_TYPE))
    site = feeds.route("/blog/", Reply(body=page("feed.xml"), headers=HTML))
    response = await post_import(importer, site)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["url"], body["discovered_from"], body["created"]) == (feed, site, 1)
    assert await article(importer, feed, unique) is not None
    again = (await post_import(importer, feed)).json()
    assert (again["created"], again["unchanged"]) == (0, 1)


async def test_a_linked_json_feed_is_found(importer, feeds: FeedServer, unique):
    document = (b'{"version": "https://jsonfeed.org/version/1.1", "items": '
                b'[{"id": "%s", "content_text": "j"}]}' % unique.encode())
    feed = feeds.route("/feed.json", Reply(body=document,
                                           headers={"Content-Type": "application/feed+json"}))
    site = feeds.route("/home", Reply(body=page(feed, "application/feed+json"), headers=HTML))
    body = (await post_import(importer, site)).json()
    assert (body["url"], body["created"]) == (feed, 1)


async def test_the_linked_feed_obeys_robots_txt(importer, feeds: FeedServer, unique):
    feeds.route("/robots.txt", Reply(body=b"User-agent: *\nDisallow: /private/\n"))
    feeds.route("/private/feed.xml", Reply(body=rss([{"id": unique, "title": "x", "body": "y"}]),
                                           headers=RSS_TYPE))
    site = feeds.route("/public", Reply(body=page("/private/feed.xml"), headers=HTML))
    response = await post_import(importer, site)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["type"] == "robots_disallowed"
    assert feeds.hits("/private/feed.xml") == 0


async def test_the_linked_feed_passes_the_ssrf_guard(importer, feeds: FeedServer):
    site = feeds.route("/site", Reply(body=page(f"http://0.0.0.0:{feeds.port}/feed.xml"),
                                      headers=HTML))
    response = await post_import(importer, site)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["type"] == "unsafe_url"
    assert importer.app.state.external_transport.refused == []  # type: ignore[attr-defined]


async def test_a_page_without_a_feed_link_is_422_with_the_reason(importer, feeds: FeedServer):
    site = feeds.route("/plain", Reply(body=b"<!doctype html><html><head></head><body>Hi"
                                            b"</body></html>", headers=HTML))
    response = await post_import(importer, site)
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["type"] == "not_a_feed" and "link rel" in error["msg"]


async def register(client, url: str):
    return await client.post("/external/feeds", json={"url": url}, headers=AUTH)


async def test_registering_a_website_address_registers_the_feed_it_links_to(
    importer, feeds: FeedServer, unique
):
    """Fails when: registration stores the page's address as given (tried: url == site,
    discovered_from null), so every scheduled import re-discovers, or none names the feed."""
    feed = feeds.route(f"/{unique}/feed.xml", Reply(body=rss([]), headers=RSS_TYPE))
    site = feeds.route(f"/{unique}/", Reply(body=page("feed.xml"), headers=HTML))
    response = await register(importer, site)
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["url"], body["discovered_from"]) == (feed, site)
    stored = (await importer.get(f"/external/feeds/{body['id']}")).json()
    assert (stored["url"], stored["discovered_from"]) == (feed, None)
    assert (await register(importer, site)).status_code == 409  # the same feed, again
    assert (await register(importer, feed)).status_code == 409


async def test_registering_a_feed_or_an_address_not_answering_keeps_it_as_given(
    importer, feeds: FeedServer, unique
):
    feed = feeds.route(f"/{unique}.xml", Reply(body=rss([]), headers=RSS_TYPE))
    body = (await register(importer, feed)).json()
    assert (body["url"], body["discovered_from"]) == (feed, None)
    missing = feeds.url(f"/{unique}-not-there.xml")  # 404 today; its imports will say so
    body = (await register(importer, missing)).json()
    assert (body["url"], body["discovered_from"]) == (missing, None)


async def test_registering_a_page_without_a_feed_link_is_422(importer, feeds: FeedServer, unique):
    site = feeds.route(f"/{unique}/plain", Reply(body=b"<!doctype html><html><body>Hi</body>"
                                                      b"</html>", headers=HTML))
    response = await register(importer, site)
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "not_a_feed"
