"""Upsert by a stable external key: the one write other features (the feed import) may use."""
from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Any, Literal, cast

from psycopg import AsyncConnection
from psycopg.errors import UniqueViolation

from . import queries
from .schemas import BODY_MAX, SLUG_MAX, TITLE_MAX, UNSTORABLE

Outcome = Literal["created", "updated", "unchanged"]
Upserted = tuple[int, Outcome]

_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_NUMBERED = 5  # slug, slug-2 ... slug-5, then hashed suffixes
_ATTEMPTS = 12


def slugify(text: str) -> str:
    """Lower-case ASCII words joined by '-', at most SLUG_MAX characters ('' if none)."""
    text = text[: SLUG_MAX * 8]  # enough for any slug; a huge hint costs no more than this
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return _NOT_SLUG.sub("-", ascii_text.lower()).strip("-")[:SLUG_MAX].rstrip("-")


def _with_suffix(base: str, suffix: str) -> str:
    return f"{base[: SLUG_MAX - len(suffix) - 1].rstrip('-')}-{suffix}"


def slug_candidates(slug_hint: str, source_key: str) -> Iterator[str]:
    """A readable slug first, then -2, -3 ..., then short hashes, then random suffixes."""
    base = slugify(slug_hint) or "article"
    yield base
    for n in range(2, _NUMBERED + 1):
        yield _with_suffix(base, str(n))
    yield _with_suffix(base, hashlib.sha256(source_key.encode()).hexdigest()[:8])
    while True:
        yield _with_suffix(base, secrets.token_hex(4))


def storable(text: str) -> str:
    """The text without what PostgreSQL or UTF-8 cannot hold (NUL, lone surrogates)."""
    return UNSTORABLE.sub("", text)


@dataclass(frozen=True)
class SourceArticle:
    """An article as an importer has it: keyed by `source_key`, with where it came from."""

    source_key: str
    title: str
    body: str
    slug_hint: str
    source_url: str | None = None
    published_at: datetime | None = None

    def cleaned(self) -> SourceArticle:
        """ArticleIn's rules applied by cleaning; ValueError when something is left empty."""
        source_key = storable(self.source_key)
        title = storable(self.title).strip()[:TITLE_MAX].rstrip()
        body = storable(self.body)[:BODY_MAX]
        url = storable(self.source_url) if self.source_url else None
        if not source_key:
            raise ValueError("source_key is empty")
        if not title:
            raise ValueError("title is empty")
        if not body:
            raise ValueError("body is empty")
        return SourceArticle(source_key, title, body, self.slug_hint, url, self.published_at)


async def upsert_by_source_key(
    db: AsyncConnection, *, source_key: str, title: str, body: str, slug_hint: str,
    source_url: str | None = None, published_at: datetime | None = None,
) -> tuple[int, Literal["created", "updated", "unchanged"]]:
    """Create the article keyed by `source_key`, update its title/body/provenance, or leave
    it unchanged.

    Applies ArticleIn's rules by cleaning rather than refusing: NUL characters (and lone
    surrogates) removed, title stripped and cut to 120 characters, body cut to 100,000.
    Raises ValueError when title or body is empty after that. A new article gets a unique slug
    derived from `slug_hint`; an existing one keeps its slug. Safe under concurrent calls.
    Works in autocommit or inside the caller's transaction (a savepoint guards each attempt).
    """
    article = SourceArticle(source_key, title, body, slug_hint, source_url, published_at)
    return await _upsert_one(db, article.cleaned())


async def _upsert_one(db: AsyncConnection, article: SourceArticle) -> Upserted:
    candidates = slug_candidates(article.slug_hint, article.source_key)
    for _ in range(_ATTEMPTS):
        slug = next(candidates)
        try:
            async with db.transaction():
                result = await queries.upsert(
                    db, source_key=article.source_key, title=article.title, slug=slug,
                    body=article.body, source_url=article.source_url,
                    published_at=article.published_at,
                )
        except UniqueViolation as exc:
            if exc.diag.constraint_name != queries.SLUG_CONSTRAINT:
                raise
            continue  # that slug belongs to another article: try the next one
        if result is not None:
            article_id, outcome = result
            return article_id, cast(Outcome, outcome)
        # A concurrent call inserted this source_key after our snapshot: look again.
    raise RuntimeError(f"no free slug for {article.slug_hint!r} after {_ATTEMPTS} attempts")


async def upsert_many(
    db: AsyncConnection, articles: Sequence[SourceArticle]
) -> list[Upserted | ValueError]:
    """upsert_by_source_key for many articles in one set-based statement (plus two lookups).

    One result per article, in order: (id, outcome), or the ValueError saying why it was not
    stored (empty after cleaning, or a source_key already given earlier in `articles`). Slugs
    are chosen as upsert_by_source_key would, from one lookup of the taken ones; if a
    concurrent writer takes one first (or inserts a source_key this statement cannot see),
    the affected articles go through upsert_by_source_key one by one. Runs in a savepoint of
    the caller's transaction, or in a transaction of its own.
    """
    results: list[Upserted | ValueError | None] = [None] * len(articles)
    batch: dict[int, SourceArticle] = {}
    keys: set[str] = set()
    for n, article in enumerate(articles):
        try:
            cleaned = article.cleaned()
        except ValueError as exc:
            results[n] = exc
            continue
        if cleaned.source_key in keys:
            results[n] = ValueError("source_key given twice")
            continue
        keys.add(cleaned.source_key)
        batch[n] = cleaned
    if batch:
        try:
            async with db.transaction():
                written = await _upsert_set(db, list(batch.values()))
        except UniqueViolation as exc:
            if exc.diag.constraint_name != queries.SLUG_CONSTRAINT:
                raise
            written = [None] * len(batch)  # a slug was taken meanwhile: one by one
        for n, outcome in zip(batch, written, strict=True):
            results[n] = outcome if outcome is not None else await _upsert_one(db, batch[n])
    return [result for result in results if result is not None]


async def _upsert_set(db: AsyncConnection, batch: list[SourceArticle]) -> list[Upserted | None]:
    existing = await queries.existing_keys(db, [a.source_key for a in batch])
    fresh = [a for a in batch if a.source_key not in existing]
    options = {a.source_key: list(islice(slug_candidates(a.slug_hint, a.source_key),
                                         _NUMBERED + 1)) for a in fresh}
    taken = await queries.taken_slugs(db, [slug for slugs in options.values() for slug in slugs])
    rows: list[dict[str, Any]] = []
    for article in batch:
        # An existing article keeps its slug; should it vanish meanwhile, the readable one
        # is inserted (or, if taken, the unique violation sends the batch one by one).
        slug = next(slug_candidates(article.slug_hint, article.source_key))
        if article.source_key in options:
            slug = _free_slug(options[article.source_key], taken, article)
            taken.add(slug)
        rows.append({"source_key": article.source_key, "title": article.title, "slug": slug,
                     "body": article.body, "source_url": article.source_url,
                     "published_at": article.published_at})
    written = await queries.upsert_many(db, rows)
    return [(article_id, cast(Outcome, outcome)) if article_id is not None else None
            for article_id, outcome in written]


def _free_slug(options: list[str], taken: set[str], article: SourceArticle) -> str:
    for slug in options:
        if slug not in taken:
            return slug
    candidates = slug_candidates(article.slug_hint, article.source_key)
    return next(slug for slug in islice(candidates, len(options), None) if slug not in taken)
