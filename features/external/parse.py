"""Feed documents into items: RSS and Atom through feedparser, JSON Feed 1.x through Pydantic.

Blocking and CPU-bound: callers run `parse_feed` in a worker thread (asyncio.to_thread).
"""
from __future__ import annotations

import calendar
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import feedparser
import orjson
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from .errors import NotAFeed
from .text import html_to_text, plain_to_text
from .xmlguard import check_entities

TITLE_FROM_BODY = 80  # characters of the body that stand in for a missing title
LINK_MAX = 2048
_LONE_SURROGATE_ESCAPE = re.compile(
    rb"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    rb"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)
# A character reference to a surrogate (&#xD800;, &#55296;): feedparser would raise
# UnicodeEncodeError on it, so it becomes U+FFFD before parsing (as an HTML parser does).
_SURROGATE_REF = re.compile(
    rb"&#(?:[xX]0*[dD][89a-fA-F][0-9a-fA-F]{2}|0*(?:5529[6-9]|55[3-9][0-9]{2}|5[67][0-9]{3}));"
)


@dataclass(frozen=True)
class Item:
    """One feed entry as plain text; `problem` says why it cannot be imported."""

    key: str | None  # the entry's id, else its link
    title: str = ""
    body: str = ""
    problem: str | None = None
    link: str | None = None  # the entry's own http(s) address
    published: datetime | None = None  # the entry's own date (published, else updated)


class JsonFeedItem(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str | None = None
    url: str | None = None
    title: str | None = None
    content_html: str | None = None
    content_text: str | None = None
    summary: str | None = None
    date_published: str | None = None
    date_modified: str | None = None

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
        feed = JsonFeed.model_validate(_json(body.removeprefix(b"\xef\xbb\xbf")))
    except orjson.JSONDecodeError as exc:
        raise NotAFeed(f"not a feed: invalid JSON ({exc})") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "document"
        raise NotAFeed(f"not a JSON Feed: {where}: {first['msg']}") from None
    return [_json_item(raw, n) for n, raw in enumerate(feed.items[:limit], 1)]


def _json(body: bytes) -> Any:
    """The parsed JSON; a lone surrogate escape (`"\\ud800"`) becomes U+FFFD, a pair stays."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        fixed = _LONE_SURROGATE_ESCAPE.sub(rb"\\ufffd", body)
        if fixed == body:
            raise
        return orjson.loads(fixed)


def _json_item(raw: object, number: int) -> Item:
    try:
        entry = JsonFeedItem.model_validate(raw)
    except ValidationError as exc:
        return Item(None, problem=f"item {number}: {exc.errors()[0]['msg']}")
    title = plain_to_text(entry.title or "")
    texts = [html_to_text(entry.content_html or ""), plain_to_text(entry.content_text or ""),
             plain_to_text(entry.summary or "")]
    published = _iso_date(entry.date_published) or _iso_date(entry.date_modified)
    return _item(entry.id or entry.url, title, best_text(texts, title), entry.url, published,
                 number)


def _xml_feed(body: bytes, content_type: str, limit: int | None) -> list[Item]:
    check_entities(body)
    body = _SURROGATE_REF.sub(b"&#xFFFD;", body)
    # A file object, never bytes or str: feedparser treats strings as URLs or file paths.
    try:
        parsed = feedparser.parse(
            io.BytesIO(body),
            response_headers={"content-type": content_type or "application/xml"},
            sanitize_html=False,  # we keep text only, never the HTML
            resolve_relative_uris=False,
        )
    except (UnicodeEncodeError, UnicodeDecodeError) as exc:
        # A surrogate reference in an encoding the rewrite above cannot see (UTF-16).
        raise NotAFeed(f"not a readable feed: {exc.reason}") from None
    if not parsed.get("version"):
        problem = parsed.get("bozo_exception")
        reason = f" ({problem})" if problem else ""
        raise NotAFeed(f"not an RSS, Atom or JSON feed{reason}")
    return [_xml_item(entry, n) for n, entry in enumerate(parsed.entries[:limit], 1)]


def _xml_item(entry: Any, number: int) -> Item:
    title = _text_of(entry["title_detail"]) if "title_detail" in entry else ""
    texts = [_text_of(content) for content in entry.get("content") or []]
    if "summary_detail" in entry:
        texts.append(_text_of(entry["summary_detail"]))
    else:
        texts.append(plain_to_text(str(entry.get("summary") or "")))
    link = entry.get("link")
    published = _struct_date(entry.get("published_parsed") or entry.get("updated_parsed"))
    return _item(entry.get("id") or link, title, best_text(texts, title), link, published,
                 number)


def _text_of(detail: Any) -> str:
    """The text of a feedparser text construct; non-text content (SVG, base64 data) has none."""
    value = str(detail.get("value") or "")
    kind = str(detail.get("type") or "text/plain").lower()
    if "html" in kind:
        return html_to_text(value)
    if kind.startswith("text/") or kind in ("text", "plain"):
        return plain_to_text(value)
    return ""


def best_text(texts: Iterable[str], title: str) -> str:
    """The first text that says more than the title (content before summary), else the
    first with any text, else "" (the title then stands in for the body).

    A body that only repeats the title loses to a full description; an empty or
    out-of-line content (`<content src=…>`) loses to the summary.
    """
    present = [text for text in texts if text]
    more = [text for text in present if text.casefold() != title.casefold()]
    return (more or present or [""])[0]


def _item(
    key: str | None, title: str, body: str, link: str | None, published: datetime | None,
    number: int,
) -> Item:
    if not key:
        return Item(None, problem=f"item {number}: neither id nor link")
    body = body or title  # never the link: an address is not the item's text
    title = title or _headline(body)
    if not body:
        return Item(key, problem=f"item {number}: no title and no content")
    return Item(key, title, body, link=_web_link(link), published=published)


def _web_link(link: str | None) -> str | None:
    """The link when it is an absolute http(s) address a reader can follow, else None."""
    link = (link or "").strip()
    if len(link) > LINK_MAX or not re.match(r"(?i)https?://[^\s/?#]+", link):
        return None
    return link if not any(char.isspace() for char in link) else None


def _struct_date(value: Any) -> datetime | None:
    """feedparser's UTC struct_time as an aware datetime (None when absent or out of range)."""
    try:
        return datetime.fromtimestamp(calendar.timegm(value), UTC) if value else None
    except (OverflowError, ValueError, TypeError, OSError):
        return None


def _iso_date(value: str | None) -> datetime | None:
    """A JSON Feed RFC 3339 date; one without an offset is taken as UTC, a bad one as absent."""
    try:
        moment = datetime.fromisoformat(value.strip()) if value else None
    except ValueError:
        return None
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


def _headline(body: str) -> str:
    first_line = body.split("\n", 1)[0]
    if len(first_line) <= TITLE_FROM_BODY:
        return first_line
    return first_line[:TITLE_FROM_BODY].rsplit(" ", 1)[0] + "…"
