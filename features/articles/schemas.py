"""Article bodies: what clients send (ArticleIn, ArticlePatch) and what they get back."""
from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from typing_extensions import TypedDict

TITLE_MAX = 120
SLUG_MAX = 120
BODY_MAX = 100_000
SLUG_PATTERN = r"^[a-z0-9-]+$"

# PostgreSQL text cannot hold NUL, and a lone surrogate (JSON "\ud800") cannot be encoded
# as UTF-8: both are refused here so that neither ever reaches the database.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(value: str) -> str:
    if UNSTORABLE.search(value):
        raise ValueError("must not contain NUL characters or lone surrogates")
    return value


# Characters that show nothing: format and control characters (zero-width space and joiners,
# LTR/RTL marks, BOM, soft hyphen), separators, combining marks with nothing to combine with,
# private-use and unassigned code points, and letters that render blank (Braille blank,
# Hangul fillers).
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp", "Mn", "Me"})
_BLANK_LETTERS = frozenset("\u2800\u115f\u1160\u3164\uffa0")


def _visible(char: str) -> bool:
    return char not in _BLANK_LETTERS and unicodedata.category(char) not in _INVISIBLE_CATEGORIES


def not_blank(value: str) -> str:
    """At least one character that shows: whitespace and invisible characters alone are blank."""
    if not any(_visible(char) for char in value):
        raise ValueError("must contain at least one visible character")
    return value


Title = Annotated[
    str,
    Field(min_length=1, max_length=TITLE_MAX),
    AfterValidator(storable),
    AfterValidator(not_blank),
]
Slug = Annotated[str, Field(min_length=1, max_length=SLUG_MAX, pattern=SLUG_PATTERN)]
Body = Annotated[str, Field(min_length=1, max_length=BODY_MAX), AfterValidator(storable)]


class ArticleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    slug: Slug
    body: Body


class ArticlePatch(BaseModel):
    """A partial update: only the fields sent change; null and an empty patch are refused."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"minProperties": 1})

    # Not `| None`: null is refused, so the OpenAPI schema must not offer it. The None default
    # only marks "not sent" and is never validated.
    title: Title = None  # type: ignore[assignment]
    slug: Slug = None  # type: ignore[assignment]
    body: Body = None  # type: ignore[assignment]

    @model_validator(mode="before")
    @classmethod
    def _some_field_and_no_null(cls, data: Any) -> Any:
        if isinstance(data, dict):
            if not data:
                raise ValueError("send at least one of title, slug, body")
            nulls = sorted(k for k, v in data.items() if v is None and k in cls.model_fields)
            if nulls:
                raise ValueError(f"{', '.join(nulls)} cannot be null")
        return data


# The response models are TypedDicts: a route's rows validate into plain dicts, which the route
# class writes with orjson, byte for byte what pydantic would write (core/output.py), in less
# time (the first page: ~603 -> ~567 us CPU). `typing_extensions` for pydantic on Python 3.11.
# Rows from PostgreSQL have the same shape (`Article`, below); routes return them and their
# `response_model` validates and filters each on the way out.
class ArticleOut(TypedDict):
    """The documented shape of an article in responses (OpenAPI); `Article` rows match it."""

    id: int
    title: str
    slug: str
    body: str
    created_at: datetime
    updated_at: datetime
    source_url: Annotated[str | None, Field(
        description="Where an imported article came from (the feed item's link); "
        "null for articles written through the API"
    )]
    published_at: Annotated[datetime | None, Field(
        description="The imported item's own date; null for articles written through the API"
    )]


class ArticlePage(TypedDict):
    items: list[ArticleOut]
    next_cursor: Annotated[str | None, Field(
        description="Pass as `cursor` to get the next page; null on the last page"
    )]


Article = ArticleOut  # a row: routes and queries speak of rows, responses of ArticleOut
