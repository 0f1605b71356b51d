"""Provenance (issue 17, point 5): an imported article shows its item's link and own date."""
from __future__ import annotations

from conftest import AUTH

from .conftest import RSS_TYPE, article, json_feed
from .feedserver import FeedServer, Reply


def dated_rss(unique: str, link: str, date: str) -> bytes:
    return (f"<?xml version='1.0'?><rss version='2.0'><channel><title>F</title>"
            f"<item><guid>{unique}</guid><link>{link}</link><title>Dated {unique}</title>"
            f"<pubDate>{date}</pubDate><description>Text</description></item>"
            "</channel></rss>").encode()


async def shown(client, url: str, key: str) -> dict:
    stored = await article(client, url, key)
    assert stored is not None
    response = await client.get(f"/articles/{stored['id']}")
    assert response.status_code == 200
    return response.json()


async def test_an_imported_item_says_where_it_came_from(importer, feeds: FeedServer, unique):
    link = f"https://example.invalid/{unique}"
    url = feeds.route("/dated.xml", Reply(body=dated_rss(unique, link, "Tue, 05 Mar 2024 "
                                                          "10:20:30 +0100"), headers=RSS_TYPE))
    response = await importer.post("/external/imports", json={"url": url}, headers=AUTH)
    assert response.json()["created"] == 1
    body = await shown(importer, url, unique)
    assert (body["source_url"], body["published_at"]) == (link, "2024-03-05T09:20:30Z")


async def test_a_reimport_that_changes_link_or_date_updates_it(importer, feeds, unique):
    first = dated_rss(unique, f"https://example.invalid/{unique}", "Tue, 05 Mar 2024 10:20:30 GMT")
    moved = dated_rss(unique, f"https://example.invalid/{unique}/moved",
                      "Wed, 06 Mar 2024 00:00:00 GMT")
    url = feeds.route("/moving.xml", Reply(body=first, headers=RSS_TYPE),
                      Reply(body=moved, headers=RSS_TYPE))
    await importer.post("/external/imports", json={"url": url}, headers=AUTH)
    again = (await importer.post("/external/imports", json={"url": url}, headers=AUTH)).json()
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 1, 0)
    body = await shown(importer, url, unique)
    assert body["source_url"] == f"https://example.invalid/{unique}/moved"
    assert body["published_at"] == "2024-03-06T00:00:00Z"


async def test_json_feed_dates_and_urls_are_kept(importer, feeds, unique):
    document = json_feed([{"id": unique, "url": f"https://example.invalid/{unique}",
                           "title": f"J {unique}", "content_text": "x",
                           "date_published": "2023-01-02T03:04:05-05:00"},
                          {"id": f"{unique}-2", "url": "javascript:alert(1)", "title": "K",
                           "content_text": "y"}])
    url = feeds.route("/feed.json", Reply(body=document,
                                          headers={"Content-Type": "application/feed+json"}))
    assert (await importer.post("/external/imports", json={"url": url},
                                headers=AUTH)).json()["created"] == 2
    body = await shown(importer, url, unique)
    assert (body["source_url"], body["published_at"]) == (
        f"https://example.invalid/{unique}", "2023-01-02T08:04:05Z")
    other = await shown(importer, url, f"{unique}-2")
    assert (other["source_url"], other["published_at"]) == (None, None)
