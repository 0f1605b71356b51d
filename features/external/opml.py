"""OPML 2.0 subscription lists: the feed URLs of a document in, the registered feeds out.

`feed_urls` is blocking (XML parsing): callers run it in a worker thread.
"""
from __future__ import annotations

from xml.parsers import expat
from xml.sax.saxutils import quoteattr

from fastapi.exceptions import RequestValidationError

from .errors import UnsafeXml
from .xmlguard import check_entities

MAX_FEEDS = 1000
MEDIA_TYPE = "text/x-opml"


class OpmlRefused(RequestValidationError):
    """422: the body is not an OPML document we read (the contract's 422 shape)."""

    def __init__(self, reason: str, kind: str = "not_opml") -> None:
        self.reason = reason
        super().__init__([{"loc": ["body"], "msg": reason, "type": kind}])


def feed_urls(body: bytes) -> list[str]:
    """Every outline's `xmlUrl`, at any depth, in document order, once each."""
    try:
        check_entities(body)
    except UnsafeXml as exc:
        raise OpmlRefused(exc.reason, UnsafeXml.kind) from None
    urls: dict[str, None] = {}
    root: list[str] = []

    def start(name: str, attributes: dict[str, str]) -> None:
        if not root:
            root.append(name)
        url = (attributes.get("xmlUrl") or "").strip() if name == "outline" else ""
        if url:
            urls[url] = None

    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartElementHandler = start
    try:
        parser.Parse(body, True)
    except expat.ExpatError as exc:
        raise OpmlRefused(f"not an OPML document: {exc}") from None
    if root != ["opml"]:
        raise OpmlRefused("not an OPML document: the root element is not <opml>")
    if len(urls) > MAX_FEEDS:
        raise OpmlRefused(f"more than {MAX_FEEDS} feeds in one document", "too_large")
    return list(urls)


def document(urls: list[str]) -> bytes:
    """An OPML 2.0 document with one `<outline type="rss">` per feed URL."""
    outlines = "".join(
        f"\n    <outline type=\"rss\" text={quoteattr(url)} xmlUrl={quoteattr(url)}/>"
        for url in urls
    )
    return ("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<opml version=\"2.0\">\n"
            "  <head><title>articles-service feeds</title></head>\n"
            f"  <body>{outlines}\n  </body>\n</opml>\n").encode()
