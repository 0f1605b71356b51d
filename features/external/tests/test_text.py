"""Text fidelity (issue 17, point 1): the best text of each entry, entities decoded, no 500."""
from __future__ import annotations

import orjson
import pytest

from conftest import AUTH
from features.external.errors import NotAFeed
from features.external.parse import parse_feed
from features.external.text import html_to_text

from .conftest import RSS_TYPE, article
from .feedserver import FeedServer, Reply

CONTENT = "xmlns:content='http://purl.org/rss/1.0/modules/content/'"
ATOM = "application/atom+xml"


def rss_item(inner: str) -> bytes:
    return (f"<?xml version='1.0'?><rss version='2.0' {CONTENT}><channel><title>F</title>"
            f"<link>http://example.invalid/</link><description>d</description>"
            f"<item><guid>g1</guid><link>http://example.invalid/post/1</link>{inner}</item>"
            "</channel></rss>").encode()


def atom_entry(inner: str) -> bytes:
    return ("<?xml version='1.0'?><feed xmlns='http://www.w3.org/2005/Atom'><title>F</title>"
            "<id>urn:f</id><updated>2026-01-01T00:00:00Z</updated><entry><id>urn:e1</id>"
            "<link href='http://example.invalid/post/1'/><updated>2026-01-01T00:00:00Z</updated>"
            f"{inner}</entry></feed>").encode()


def one(body: bytes, content_type: str) -> tuple[str, str]:
    [item] = parse_feed(body, content_type)
    assert item.problem is None
    return item.title, item.body


def test_an_empty_content_encoded_loses_to_the_description() -> None:
    body = rss_item("<title>Matrix news</title><description>&lt;p&gt;The full story&lt;/p&gt;"
                    "</description><content:encoded></content:encoded>")
    assert one(body, "application/rss+xml") == ("Matrix news", "The full story")


def test_out_of_line_atom_content_loses_to_the_summary() -> None:
    body = atom_entry("<title>Out of line</title><summary>What it says</summary>"
                      "<content src='http://example.invalid/post/1.html' type='text/html'/>")
    assert one(body, ATOM) == ("Out of line", "What it says")


def test_non_text_atom_content_loses_to_the_summary() -> None:
    body = atom_entry("<title>A picture</title><summary>A circle, drawn</summary>"
                      "<content type='image/svg+xml'><svg xmlns='http://www.w3.org/2000/svg'>"
                      "<circle r='1'/></svg></content>")
    assert one(body, ATOM) == ("A picture", "A circle, drawn")


def test_a_content_that_only_repeats_the_title_loses_to_a_full_description() -> None:
    body = rss_item("<title>Weekly notes</title><description>Ten things happened this week."
                    "</description><content:encoded>&lt;h1&gt;Weekly notes&lt;/h1&gt;"
                    "</content:encoded>")
    assert one(body, "application/rss+xml") == ("Weekly notes", "Ten things happened this week.")


def test_the_link_is_never_the_body() -> None:
    body = rss_item("<title>Only a title</title>")
    assert one(body, "application/rss+xml") == ("Only a title", "Only a title")


def test_json_feed_entities_are_decoded_in_titles_and_text() -> None:
    feed = orjson.dumps({"version": "https://jsonfeed.org/version/1.1", "items": [
        {"id": "e16", "title": "Episode 16: Don&#8217;t panic",
         "content_text": "Fish &amp; chips"}]})
    assert one(feed, "application/feed+json") == ("Episode 16: Don\u2019t panic", "Fish & chips")


def test_an_unclosed_object_does_not_swallow_the_text_after_it() -> None:
    html = "<p>Watch <object data='v.swf'><param name='a' value='b'>the video</p><p>Then more</p>"
    assert html_to_text(html) == "Watch the video\n\nThen more"


@pytest.mark.parametrize("reference", ["&#xD800;", "&#xdfff;", "&#55296;"])
def test_a_lone_surrogate_reference_is_replaced_not_a_crash(reference: str) -> None:
    body = rss_item(f"<title>a{reference}b</title><description>c{reference}d</description>")
    assert one(body, "application/rss+xml") == ("a\ufffdb", "c\ufffdd")


async def test_a_feed_with_lone_surrogates_imports(importer, feeds: FeedServer, unique) -> None:
    body = (f"<?xml version='1.0'?><rss version='2.0'><channel><title>F</title><item>"
            f"<guid>{unique}&#xD800;</guid><title>T&#xD800; {unique}</title>"
            "<description>Body &#xD800; here</description></item></channel></rss>").encode()
    url = feeds.route("/surrogates.xml", Reply(body=body, headers=RSS_TYPE))
    response = await importer.post("/external/imports", json={"url": url}, headers=AUTH)
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 1
    stored = await article(importer, url, f"{unique}\ufffd")
    assert stored is not None and stored["body"] == "Body \ufffd here"


def test_html_declared_as_text_is_read_as_html_and_other_brackets_stay() -> None:
    body = atom_entry("<title>Maths: a &lt; b &lt;x&gt;</title>"
                      "<content>Some &lt;b&gt;bold&lt;/b&gt; text.&lt;script&gt;x()&lt;/script&gt;"
                      "</content>")
    assert one(body, ATOM) == ("Maths: a < b <x>", "Some bold text.")


def test_a_lone_surrogate_escape_in_json_feed_is_replaced_and_a_pair_kept() -> None:
    feed = (b'{"version": "https://jsonfeed.org/version/1.1", "items": [{"id": "k\\ud800",'
            b' "title": "a\\udc00 \\ud83d\\ude00", "content_text": "b"}]}')
    [item] = parse_feed(feed, "application/feed+json")
    assert (item.key, item.title, item.body) == ("k\ufffd", "a\ufffd \U0001f600", "b")


def test_a_surrogate_in_a_utf16_feed_is_a_reason_not_a_crash() -> None:
    body = ("<?xml version='1.0' encoding='utf-16'?><rss version='2.0'><channel><title>t"
            "</title><item><guid>a&#xD800;</guid><title>x</title></item></channel></rss>")
    with pytest.raises(NotAFeed, match="surrogates"):
        parse_feed(body.encode("utf-16"), "application/rss+xml")
