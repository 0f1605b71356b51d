"""Feed discovery: the feed an HTML page names in `<link rel="alternate" type=…>`.

Blocking (HTML parsing): callers run `feed_link` in a worker thread.
"""
from __future__ import annotations

import httpx
from selectolax.lexbor import LexborHTMLParser

FEED_TYPES = frozenset({
    "application/rss+xml", "application/atom+xml", "application/feed+json",
    "application/json", "application/rdf+xml",
})
HEAD_BYTES = 512 * 1024  # a page's <link> elements are in its head; no need to parse more


def looks_like_html(body: bytes, content_type: str) -> bool:
    start = body[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return "html" in content_type.lower() or start.startswith((b"<!doctype html", b"<html"))


def feed_link(body: bytes, page_url: str) -> str | None:
    """The first RSS, Atom or JSON Feed address the page links to as alternate, absolute."""
    tree = LexborHTMLParser(body[:HEAD_BYTES].decode("utf-8", errors="replace"))
    for node in tree.css("link[rel][href]"):
        rels = (node.attributes.get("rel") or "").lower().split()
        kind = (node.attributes.get("type") or "").split(";")[0].strip().lower()
        href = (node.attributes.get("href") or "").strip()
        if "alternate" in rels and kind in FEED_TYPES and href:
            try:
                return str(httpx.URL(page_url).join(href))
            except httpx.InvalidURL:
                continue
    return None
