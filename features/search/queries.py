"""Search's database calls (the statements are in `sql.py`); every function takes an open
connection and binds every value."""
from __future__ import annotations

from dataclasses import dataclass

from psycopg import AsyncConnection
from psycopg.rows import class_row

from .sql import ANALYZE, HEADLINE, PLANNER, SEARCH
from .syntax import Operand, quote_lexeme

# Ranked per query at most (like Meilisearch's maxTotalHits): ranking reads each candidate's
# whole tsvector, ~15-25 microseconds apiece. Word hits gathered per candidate ranked: the
# article ids come from the GIN index, ~1 microsecond apiece; they pick the candidates.
CANDIDATES = 750
GATHER = 2
# BM25F: the usual k1 and b (Robertson & Zaragoza); a title word counts as TITLE_WEIGHT body
# words, and titles, short and alike in length, are normalised more gently.
K1 = 1.2
B = 0.75
TITLE_B = 0.5
TITLE_WEIGHT = 2.0
# ts_headline re-parses what it is given (~0.3 ms per 1,000 characters with unaccent): a
# snippet comes from the first 10,000 characters, so a page of long articles stays fast.
HEADLINE_CHARS = 10_000
PHRASE_SCAN = 2_000
MIN_PREFIX = 2
COMPLETIONS = 10


@dataclass(frozen=True)
class Analysis:
    cursor_key: str
    tsq: str
    loose: str
    lexeme: str | None
    similar_words: list[str]
    similar_ndocs: list[int]
    completions: list[str]
    stems: list[str]


@dataclass(frozen=True)
class Term:
    """A lexeme BM25F scores; `slot`: alternatives share one (the best counts); `optional`:
    from a plain-word group (an article may lack it)."""

    lexeme: str
    slot: int
    optional: bool


@dataclass(frozen=True)
class Query:
    """tsquery texts: what a result holds (`tsq`: every phrase and exclusion, some plain word);
    what it holds to be in the first tier (`every`: every group); their superset with phrases
    as plain AND (what the index is asked); the phrases and exclusions alone; the positive
    part (to highlight); and the terms to score."""

    tsq: str
    wanted: str
    loose: str
    every: str
    every_loose: str
    conditions: str | None
    negated: bool
    terms: list[Term]
    every_first: bool  # look articles holding every group up first (steps 1-2 in sql.py)


@dataclass(frozen=True)
class Row:
    id: int
    title: str
    slug: str
    rank: float
    snippet: str


async def analyze(db: AsyncConnection, operands: list[Operand]) -> list[Analysis]:
    """What PostgreSQL and the vocabulary make of each operand, in order."""
    params = {
        "texts": [op.text for op in operands],
        "phrase": [op.phrase for op in operands],
        "fuzzy": [op.plain_word for op in operands],
        "last": [op.last_word for op in operands],
        "min_prefix": MIN_PREFIX,
        "completions": COMPLETIONS,
    }
    async with db.cursor(row_factory=class_row(Analysis)) as cur:
        await cur.execute(ANALYZE, params)
        return await cur.fetchall()


async def search(
    db: AsyncConnection,
    query: Query,
    limit: int,
    after: tuple[float, int] | None,
) -> list[Row]:
    """One page of ranked matches (limit rows, after the given position)."""
    params = {
        "tsq": query.tsq,
        "wanted": query.wanted,
        "negated": query.negated,
        "every": query.every,
        "every_loose": query.every_loose,
        "every_exact": query.every_loose != query.every,
        "exact": query.loose != query.tsq,
        "conditions": query.conditions,
        "lexemes": [t.lexeme for t in query.terms],
        "literals": [quote_lexeme(t.lexeme) for t in query.terms],
        "slots": [t.slot for t in query.terms],
        "optional": [t.optional for t in query.terms],
        "every_first": query.every_first or not any(t.optional for t in query.terms),
        "k1": K1,
        "b": B,
        "title_b": TITLE_B,
        "title_weight": TITLE_WEIGHT,
        "scan": PHRASE_SCAN,
        "cap": CANDIDATES,
        "gather": GATHER * CANDIDATES,
        "limit": limit,
        "after_rank": after[0] if after else None,
        "after_id": after[1] if after else None,
        "headline": HEADLINE,
        "headline_chars": HEADLINE_CHARS,
    }
    async with db.transaction(), db.cursor(row_factory=class_row(Row)) as cur:
        await cur.execute(PLANNER)
        await cur.execute(SEARCH, params)
        return await cur.fetchall()
