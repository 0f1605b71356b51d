"""SQL for search; every function takes an open connection and binds every value."""
from __future__ import annotations

from dataclasses import dataclass

from psycopg import AsyncConnection
from psycopg.rows import class_row

from .syntax import Operand

# One row per operand: its tsquery as PostgreSQL reads it, and for single-lexeme words what
# the vocabulary knows: whether the lexeme exists, close spellings (unknown words only, via
# the trigram index) and for the last word completions (the most frequent words it begins)
# and, when unknown, the stems it runs past (`runnin` is past `run`, the stem of `running`).
# Conditions sit inside the laterals so PostgreSQL skips the scans an operand does not need.
ANALYZE = """
SELECT (SELECT key FROM search_cursor_key LIMIT 1) AS cursor_key,
       (CASE WHEN t.phrase THEN phraseto_tsquery('search_en', t.txt)
             ELSE plainto_tsquery('search_en', t.txt) END)::text AS tsq,
       plainto_tsquery('search_en', t.txt)::text AS loose,
       lex.lexeme,
       coalesce(spelling.words, '{}') AS similar_words,
       coalesce(spelling.ndocs, '{}') AS similar_ndocs,
       coalesce(completions.words, '{}') AS completions,
       coalesce(stems.words, '{}') AS stems
FROM unnest(%(texts)s::text[], %(phrase)s::bool[], %(fuzzy)s::bool[], %(last)s::bool[])
     WITH ORDINALITY AS t(txt, phrase, fuzzy, last, ord)
CROSS JOIN LATERAL (
    SELECT CASE WHEN cardinality(a) = 1 THEN a[1] END AS lexeme
    FROM tsvector_to_array(to_tsvector('search_en', translate(t.txt, '<>', '  '))) AS a
) AS lex
CROSS JOIN LATERAL (
    SELECT EXISTS (SELECT 1 FROM search_words v WHERE v.word = lex.lexeme) AS yes
) AS known
LEFT JOIN LATERAL (
    SELECT array_agg(word ORDER BY rn) AS words, array_agg(ndoc ORDER BY rn) AS ndocs
    FROM (
        SELECT word, ndoc, row_number() OVER (ORDER BY similarity(word, lex.lexeme) DESC,
                                                       ndoc DESC) AS rn
        FROM search_words
        WHERE t.fuzzy AND NOT known.yes AND length(lex.lexeme) >= 4
          AND word %% lex.lexeme
        ORDER BY rn LIMIT 30
    ) AS s
) AS spelling ON true
LEFT JOIN LATERAL (
    SELECT array_agg(word ORDER BY ndoc DESC) AS words
    FROM (
        SELECT word, ndoc FROM search_words
        WHERE t.last AND length(lex.lexeme) >= %(min_prefix)s
          AND word > lex.lexeme AND word < lex.lexeme || chr(1114111)
        ORDER BY ndoc DESC LIMIT %(completions)s
    ) AS c
) AS completions ON true
LEFT JOIN LATERAL (
    SELECT array_agg(word ORDER BY length(word) DESC) AS words
    FROM search_words
    WHERE t.last AND NOT known.yes AND word = ANY (ARRAY(
        SELECT left(lex.lexeme, n) FROM generate_series(3, length(lex.lexeme) - 1) AS n))
) AS stems ON true
ORDER BY t.ord
"""

# Candidates come from the GIN indexes with a LIMIT, so a common word costs about what a rare
# one does: first up to `cap` title matches, from the small title index; then, only to fill
# the rest of `cap`, matches anywhere. A word common enough to fill `cap` with title matches
# never touches the big body index (whose bitmap for a word in a third of a million
# articles alone takes longer than the whole budget), and those title matches are exactly the
# ones that rank first. Only the candidates are ranked: title matches first (+1), then
# ts_rank over title (A) and body (B), normalised by length and into [0, 1).
# With an exclusion in the query the title alone cannot decide, so the whole document is
# checked too. A phrase is one more bound: the index knows which articles hold its words but
# not where, so each one must be read to check the order; only the first `scan` articles that
# hold the words (`loose`: phrases as plain AND) are checked. Without
# it, a phrase of two common words reads every article holding both (seconds at 1M).
SEARCH = """
WITH title_hits AS MATERIALIZED (
    SELECT article_id, title_tsv, tsv FROM search_documents
    WHERE title_tsv @@ %(tsq)s::tsquery AND (NOT %(negated)s OR tsv @@ %(tsq)s::tsquery)
    LIMIT %(cap)s
),
hits AS (
    SELECT * FROM title_hits
    UNION ALL
    (SELECT article_id, title_tsv, tsv
     FROM (SELECT article_id, title_tsv, tsv FROM search_documents
           WHERE tsv @@ %(loose)s::tsquery
           LIMIT %(scan)s) AS loose
     WHERE NOT %(exact)s OR tsv @@ %(tsq)s::tsquery
     LIMIT greatest(0, %(cap)s - (SELECT count(*) FROM title_hits)))
),
ranked AS (
    SELECT article_id AS id,
           ((title_tsv @@ %(tsq)s::tsquery)::int + ts_rank(tsv, %(wanted)s::tsquery, 33))::float8
               AS rank
    FROM (SELECT DISTINCT ON (article_id) * FROM hits) AS distinct_hits
),
page AS (
    SELECT id, rank FROM ranked
    WHERE %(after_rank)s::float8 IS NULL OR (rank, id) < (%(after_rank)s, %(after_id)s::bigint)
    ORDER BY rank DESC, id DESC
    LIMIT %(limit)s
)
SELECT a.id, a.title, a.slug, p.rank,
       ts_headline('search_en',
                   translate(left(a.body, %(headline_chars)s), E'<>\\x02\\x03', E'\\x04\\x05'),
                   %(wanted)s::tsquery, %(headline)s) AS snippet
FROM page p
JOIN articles a ON a.id = p.id
ORDER BY p.rank DESC, p.id DESC
"""

# For this transaction only: a common word must come from the GIN index with its LIMIT, but
# the planner, blind to the cost of reading each toasted tsvector, prefers a filtered
# sequential scan; and the large row estimates must not trigger JIT compilation.
PLANNER = "SELECT set_config('enable_seqscan', 'off', true), set_config('jit', 'off', true)"

# \x02/\x03 mark matches; the body's own \x02/\x03 are dropped and its `<`/`>` travel as
# \x04/\x05 (plain blanks to the parser), so the snippet is escaped in Python, never here.
HEADLINE = (
    "StartSel=\x02, StopSel=\x03, MaxWords=30, MinWords=12, ShortWord=2, "
    'MaxFragments=2, FragmentDelimiter=" … "'
)
# Ranked per query at most (like Meilisearch's maxTotalHits): ranking reads each candidate's
# whole tsvector, ~5-10 microseconds apiece.
CANDIDATES = 500
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
class Query:
    """tsquery texts: to match; its positive part (to rank and highlight); a superset with the
    wanted phrases as plain AND (what the body index is asked)."""

    tsq: str
    wanted: str
    loose: str

    @property
    def negated(self) -> bool:
        return self.wanted != self.tsq


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
        "loose": query.loose,
        "exact": query.loose != query.tsq,
        "scan": PHRASE_SCAN,
        "cap": CANDIDATES,
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
