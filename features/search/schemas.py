"""Search's response models."""
from __future__ import annotations

from pydantic import BaseModel, Field


class SearchHit(BaseModel):
    id: int
    title: str
    slug: str
    snippet: str = Field(
        description="Body text around the matches, HTML-escaped, matches wrapped in <mark>…</mark>"
    )
    rank: float = Field(
        description="Higher is better: BM25F mapped into [0, 1), plus 1 when a query of up to 3 "
        "word groups is matched whole"
    )


class SearchPage(BaseModel):
    items: list[SearchHit]
    next_cursor: str | None = Field(
        description="Pass as `cursor` (with the same `q`) for the next page; null on the last"
    )
