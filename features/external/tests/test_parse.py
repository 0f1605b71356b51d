"""Feed parsing and HTML to text, without the network."""
from __future__ import annotations

import threading

import pytest

from conftest import AUTH
from features.external import service
from features.external.errors import NotAFeed
from features.external.parse import parse_feed
from features.external.text import html_to_text

from .conftest import RSS_TYPE, json_feed, rss
from .feedserver import Reply


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>a &amp; b &lt;c&gt; &#233;</p>", "a & b <c> é"),
        ("<div>x<script>steal()</script><style>p{}</style>y</div>", "xy"),
        ("<p>one</p><p>two</p>", "one\n\ntwo"),
        ("line<br>break", "line\nbreak"),
        ("<ul><li>a</li><li>b</li></ul>", "a\nb"),
        ("  spaced \t out  ", "spaced out"),
        ("<p>unclosed <b>bold", "unclosed bold"),
        ("x < y and y > z", "x < y and y > z"),
        ("", ""),
    ],
)
def test_html_becomes_readable_plain_text(html: str, text: str) -> None:
    assert html_to_text(html) == text


def test_json_feed_1_0_and_numeric_ids_are_accepted() -> None:
    body = (b'{"version": "https://jsonfeed.org/version/1",'
            b' "items": [{"id": 7, "content_text": "t"}]}')
    [item] = parse_feed(body, "application/json")
    assert (item.key, item.title, item.body) == ("7", "t", "t")


def test_a_missing_title_is_the_body_start_cut_at_a_word() -> None:
    text = "word " * 40
    [item] = parse_feed(json_feed([{"id": "1", "content_text": text}]), "application/feed+json")
    assert item.title.endswith("…") and len(item.title) <= 81 and "wor…" not in item.title


def test_xml_served_as_json_is_still_parsed_as_xml() -> None:
    [item] = parse_feed(rss([{"id": "1", "title": "T", "body": "B"}]), "application/json")
    assert (item.title, item.body) == ("T", "B")


def test_a_file_path_as_body_is_not_read_as_a_file() -> None:
    with pytest.raises(NotAFeed):
        parse_feed(b"/etc/hostname", "text/plain")


async def test_parsing_runs_in_a_worker_thread(importer, feeds, unique, monkeypatch) -> None:
    threads: list[threading.Thread] = []

    def recording(*args: object):
        threads.append(threading.current_thread())
        return parse_feed(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(service, "parse_feed", recording)
    url = feeds.route("/rss.xml", Reply(body=rss([{"id": unique, "title": "T", "body": "B"}]),
                                        headers=RSS_TYPE))
    response = await importer.post("/external/imports", json={"url": url}, headers=AUTH)
    assert response.status_code == 200
    assert threads and threads[0] is not threading.main_thread()
