"""Request and response bodies of the external import routes."""
from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

URL_MAX = 2048


class ImportIn(BaseModel):
    """A feed to import now; without `max_items`, every item of the document (≤ 10 MB)."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=URL_MAX, examples=["https://example.org/feed.xml"])
    max_items: int | None = Field(None, ge=1, le=1000)


class ImportOut(BaseModel):
    url: str = Field(description="The feed imported (found through the page when discovered)")
    status: Literal["imported", "not_modified"]
    fetched: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    errors: list[str] = []
    discovered_from: str | None = Field(
        default=None, description="The web page whose <link rel=\"alternate\"> named the feed"
    )


class FeedIn(BaseModel):
    """A feed to refresh every `interval_minutes`."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=URL_MAX, examples=["https://example.org/feed.xml"])
    interval_minutes: int = Field(60, ge=5, le=1440)


class LastImport(BaseModel):
    at: datetime
    status: Literal["imported", "not_modified", "failed"]
    fetched: int | None
    created: int | None
    updated: int | None
    unchanged: int | None
    skipped: int | None
    error: str | None


class FeedOut(BaseModel):
    id: int
    url: str
    interval_minutes: int
    next_due_at: datetime
    failures: int
    created_at: datetime
    last_import: LastImport | None
    discovered_from: str | None = Field(
        default=None, description="In the registration answer: the web page whose "
        "<link rel=\"alternate\"> named the feed registered (null elsewhere)"
    )


class FeedPage(BaseModel):
    items: list[FeedOut]
    next_cursor: str | None


class OpmlResult(BaseModel):
    url: str
    status: Literal["registered", "already_registered", "refused"]
    id: int | None = None
    reason: str | None = None


class OpmlOut(BaseModel):
    results: list[OpmlResult]
