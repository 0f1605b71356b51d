"""Feed documents into items: RSS and Atom through feedparser, JSON Feed 1.x through Pydantic.

Blocking and CPU-bound: callers run `parse_feed` in a worker thread (asyncio.to_thread).
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import feedparser
import orjson
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from .errors import NotAFeed
from .text import html_to_text, tidy

TITLE_FROM_BODY = 80  # characters of the body that stand in for a missing title


@dataclass(frozen=True)
class Item:
    """One feed entry as plain text; `problem` says why it cannot be imported."""

    key: str | None  # the entry's id, else its link
    title: str = ""
    body: str = ""
    problem: str | None = None


class JsonFeedItem(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str | None = None
    url: str | None = None
    title: str | None = None
    content_html: str | None = None
    content_text: str | None = None
    summary: str | None = None

    @field_validator("id", mode="before")
    @classmethod
    def _id_as_string(cls, value: object) -> object:
        # JSON Feed 1.1: an id given as a number must be coerced to a string.
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        return str(value) if numeric else value


class JsonFeed(BaseModel):
    model_config = ConfigDict(extra="ignore")

    version: str
    title: str | None = None
    items: list[Any]

    @field_validator("version")
    @classmethod
    def _json_feed_1(cls, value: str) -> str:
        if not value.startswith(("https://jsonfeed.org/version/1", "http://jsonfeed.org/version/1")):
            raise ValueError(f"unsupported JSON Feed version {value!r}")
        return value


def parse_feed(body: bytes, content_type: str, limit: int | None = None) -> list[Item]:
    """The first `limit` items of an RSS, Atom or JSON Feed document, or NotAFeed."""
    start = body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if start in (b"{", b"[") or (start != b"<" and "json" in content_type.lower()):
        return _json_feed(body, limit)
    return _xml_feed(body, content_type, limit)


def _json_feed(body: bytes, limit: int | None) -> list[Item]:
    try:
        feed = JsonFeed.model_validate(orjson.loads(body.removeprefix(b"\xef\xbb\xbf")))
    except orjson.JSONDecodeError as exc:
        raise NotAFeed(f"not a feed: invalid JSON ({exc})") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "document"
        raise NotAFeed(f"not a JSON Feed: {where}: {first['msg']}") from None
    return [_json_item(raw, n) for n, raw in enumerate(feed.items[:limit], 1)]


def _json_item(raw: object, number: int) -> Item:
    try:
        entry = JsonFeedItem.model_validate(raw)
    except ValidationError as exc:
        return Item(None, problem=f"item {number}: {exc.errors()[0]['msg']}")
    if entry.content_html:
        body = html_to_text(entry.content_html)
    else:
        body = tidy(entry.content_text or entry.summary or "")
    return _item(entry.id or entry.url, tidy(entry.title or ""), body, entry.url, number)


def _xml_feed(body: bytes, content_type: str, limit: int | None) -> list[Item]:
    # A file object, never bytes or str: feedparser treats strings as URLs or file paths.
    parsed = feedparser.parse(
        io.BytesIO(body),
        response_headers={"content-type": content_type or "application/xml"},
        sanitize_html=False,  # we keep text only, never the HTML
        resolve_relative_uris=False,
    )
    if not parsed.get("version"):
        problem = parsed.get("bozo_exception")
        reason = f" ({problem})" if problem else ""
        raise NotAFeed(f"not an RSS, Atom or JSON feed{reason}")
    return [_xml_item(entry, n) for n, entry in enumerate(parsed.entries[:limit], 1)]


def _xml_item(entry: Any, number: int) -> Item:
    contents = entry.get("content") or []
    detail = contents[0] if contents else entry.get("summary_detail")
    body = _text_of(detail) if detail else tidy(entry.get("summary", ""))
    title = _text_of(entry["title_detail"]) if "title_detail" in entry else ""
    link = entry.get("link")
    return _item(entry.get("id") or link, title, body, link, number)


def _text_of(detail: Any) -> str:
    value = str(detail.get("value") or "")
    kind = str(detail.get("type") or "")
    return html_to_text(value) if "html" in kind else tidy(value)


def _item(key: str | None, title: str, body: str, link: str | None, number: int) -> Item:
    if not key:
        return Item(None, problem=f"item {number}: neither id nor link")
    body = body or tidy(link or "") or title
    title = title or _headline(body)
    if not body:
        return Item(key, problem=f"item {number}: no title and no content")
    return Item(key, title, body)


def _headline(body: str) -> str:
    first_line = body.split("\n", 1)[0]
    if len(first_line) <= TITLE_FROM_BODY:
        return first_line
    return first_line[:TITLE_FROM_BODY].rsplit(" ", 1)[0] + "…"
