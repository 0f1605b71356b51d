"""ETags and HTTP preconditions (RFC 9110 section 13) for one article.

An article's ETag is `"<id>-<updated_at in microseconds>"`: free to compute from the row, and
strong because the database moves updated_at forward on every write. Parsing it back gives the
version an If-Match asks for, so the write statement itself can check it.
"""
from __future__ import annotations

import re
from datetime import datetime

from .cursor import from_micros, micros

_TAG = re.compile(r'\s*(W/)?"([\x21\x23-\x7e]*)"\s*(?:,|$)')
_OURS = re.compile(r"([0-9]{1,19})-([0-9]{1,19})")


def etag(article_id: int, updated_at: datetime) -> str:
    return f'"{article_id}-{micros(updated_at)}"'


def _tags(header: str) -> list[tuple[bool, str]]:
    """(weak, opaque) for each entity tag in a list; stops at the first malformed part."""
    tags, pos = [], 0
    while pos < len(header):
        match = _TAG.match(header, pos)
        if match is None or match.end() == pos:
            break
        tags.append((match.group(1) is not None, match.group(2)))
        pos = match.end()
    return tags


def none_match(header: str | None, current: str) -> bool:
    """True when If-None-Match names the current ETag (weak comparison) or is `*`: answer 304."""
    if header is None:
        return False
    if header.strip() == "*":
        return True
    opaque = current.strip('"')
    return any(tag == opaque for _, tag in _tags(header))


def wanted_versions(header: str | None, article_id: int) -> list[datetime] | None:
    """The updated_at values If-Match accepts for this article (strong comparison).

    None means no condition (header absent or `*`); an empty list means nothing can match.
    """
    if header is None or header.strip() == "*":
        return None
    versions = []
    for weak, opaque in _tags(header):
        ours = _OURS.fullmatch(opaque)
        if weak or ours is None or int(ours.group(1)) != article_id:
            continue
        try:
            versions.append(from_micros(int(ours.group(2))))
        except (OverflowError, ValueError):
            continue
    return versions
