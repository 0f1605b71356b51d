"""Upsert by a stable external key: the one write other features (the feed import) may use."""
from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from collections.abc import Iterator
from typing import Literal, cast

from psycopg import AsyncConnection
from psycopg.errors import UniqueViolation

from . import queries
from .schemas import BODY_MAX, SLUG_MAX, TITLE_MAX, UNSTORABLE

Outcome = Literal["created", "updated", "unchanged"]

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


async def upsert_by_source_key(
    db: AsyncConnection, *, source_key: str, title: str, body: str, slug_hint: str
) -> tuple[int, Literal["created", "updated", "unchanged"]]:
    """Create the article keyed by `source_key`, update its title/body, or leave it unchanged.

    Applies ArticleIn's rules by cleaning rather than refusing: NUL characters (and lone
    surrogates) removed, title stripped and cut to 120 characters, body cut to 100,000.
    Raises ValueError when title or body is empty after that. A new article gets a unique slug
    derived from `slug_hint`; an existing one keeps its slug. Safe under concurrent calls.
    Works in autocommit or inside the caller's transaction (a savepoint guards each attempt).
    """
    source_key = storable(source_key)
    title = storable(title).strip()[:TITLE_MAX].rstrip()
    body = storable(body)[:BODY_MAX]
    if not source_key:
        raise ValueError("source_key is empty")
    if not title:
        raise ValueError("title is empty")
    if not body:
        raise ValueError("body is empty")
    candidates = slug_candidates(slug_hint, source_key)
    for _ in range(_ATTEMPTS):
        slug = next(candidates)
        try:
            async with db.transaction():
                result = await queries.upsert(
                    db, source_key=source_key, title=title, slug=slug, body=body
                )
        except UniqueViolation as exc:
            if exc.diag.constraint_name != queries.SLUG_CONSTRAINT:
                raise
            continue  # that slug belongs to another article: try the next one
        if result is not None:
            article_id, outcome = result
            return article_id, cast(Outcome, outcome)
        # A concurrent call inserted this source_key after our snapshot: look again.
    raise RuntimeError(f"no free slug for {slug_hint!r} after {_ATTEMPTS} attempts")
