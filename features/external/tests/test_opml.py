"""OPML (issue 17, point 3): subscriptions in, registered per feed and idempotently; out as OPML."""
from __future__ import annotations

from xml.sax.saxutils import quoteattr

from conftest import AUTH

from .feedserver import FeedServer, Reply

OPML_TYPE = {"Content-Type": "text/x-opml", **AUTH}


def opml(*urls: str) -> bytes:
    outlines = "".join(f"<outline text='x' type='rss' xmlUrl={quoteattr(u)}/>" for u in urls)
    return (f"<?xml version='1.0'?><opml version='2.0'><head><title>Mine</title></head><body>"
            f"<outline text='Folder'>{outlines}</outline></body></opml>").encode()


async def test_opml_registers_each_feed_once_with_reasons(importer, feeds: FeedServer, unique):
    first, second = feeds.url(f"/{unique}/a.xml"), feeds.url(f"/{unique}/b.xml")
    document = opml(first, second, "ftp://127.0.0.1/feed", f"http://0.0.0.0:{feeds.port}/x")
    response = await importer.post("/external/feeds/opml", content=document, headers=OPML_TYPE)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [(r["url"], r["status"]) for r in results[:2]] == [
        (first, "registered"), (second, "registered")]
    assert [r["status"] for r in results[2:]] == ["refused", "refused"]
    assert all(r["reason"] for r in results[2:])
    again = (await importer.post("/external/feeds/opml", content=document,
                                 headers=OPML_TYPE)).json()["results"]
    assert [(r["status"], r["id"]) for r in again[:2]] == [
        ("already_registered", results[0]["id"]), ("already_registered", results[1]["id"])]
    exported = await importer.get("/external/feeds.opml")
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/x-opml")
    assert f"xmlUrl={quoteattr(first)}".encode() in exported.content
    assert exported.content.startswith(b"<?xml") and b'<opml version="2.0">' in exported.content


async def test_opml_bombs_and_external_entities_are_422_and_never_fetched(
    importer, feeds: FeedServer
):
    secret = feeds.route("/secret", Reply(body=b"x"))
    for document in [
        (f"<?xml version='1.0'?><!DOCTYPE opml [<!ENTITY e SYSTEM '{secret}'>]>"
         "<opml version='2.0'><body><outline xmlUrl='&e;'/></body></opml>").encode(),
        (b"<?xml version='1.0'?><!DOCTYPE opml [<!ENTITY a 'aaaaaaaaaa'>"
         b"<!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;'>]>"
         b"<opml version='2.0'><body><outline xmlUrl='&b;'/></body></opml>"),
    ]:
        response = await importer.post("/external/feeds/opml", content=document,
                                       headers=OPML_TYPE)
        assert response.status_code == 422, response.text
        assert response.json()["detail"][0]["type"] == "unsafe_xml"
    assert feeds.hits("/secret") == 0


async def test_a_body_that_is_not_opml_is_422(importer):
    for document in [b"not xml at all", b"<rss version='2.0'/>"]:
        response = await importer.post("/external/feeds/opml", content=document,
                                       headers=OPML_TYPE)
        assert response.status_code == 422, response.text
        assert response.json()["detail"][0]["type"] == "not_opml"


async def test_opml_import_needs_a_key(importer):
    response = await importer.post("/external/feeds/opml", content=opml(),
                                   headers={"Content-Type": "text/x-opml"})
    assert response.status_code == 401
