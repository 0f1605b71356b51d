"""The search statements (bound by `queries`): the analysis of the operands, the ranked query."""

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
# one does, in this order until `cap` are found:
# 1. articles holding every group, title matches first (the small title index: a common word
#    that fills `cap` with title matches never touches the big body index);
# 2. articles holding every group, anywhere (1 and 2 only for a query of at most
#    ALL_WORDS_FIRST groups, or one without a plain word: for a long query, an AND of many
#    common words costs more than the rest of the search, and whoever holds every word holds
#    its most informative ones, step 3);
# 3. articles holding the most informative plain words (and every phrase, no exclusion): up to
#    `gather` hits of one word at a time, the rarest word first (rare words are the informative
#    ones: taking them first keeps the cap from filling with articles that hold only the
#    commonest word of a long query), then the hits holding the largest sum of their words'
#    IDF, best first, until `cap` (coordination by informativeness, as Elasticsearch's
#    `minimum_should_match` or Meilisearch's matching strategy: an article holding two fairly
#    rare words is a candidate before one holding only the rarest).
# A phrase is one more bound: the index knows which articles hold its words but not where, so
# each one must be read to check the order; only the first `scan` articles that hold the words
# (`every_loose`: phrases as plain AND) are checked.
# Only the candidates are ranked, by BM25F (see README): per word, the title's and the body's
# occurrences, each normalised by its field's length against the candidates' mean, weighted
# and summed into one frequency, saturated by k1, times the word's IDF from the vocabulary's
# document counts; per slot the best alternative, all of a slot's alternatives sharing the IDF
# of its commonest one (Elasticsearch's blended rewrite of fuzzy and prefix queries: a rare
# completion or correction must not outweigh the word typed); summed over slots.
# rank = that sum s mapped to s/(1+s), plus 1 for a candidate holding every group, whatever
# the query's length (only a short query also looks such articles up first, steps 1 and 2: a
# long one's are among its candidates anyway, as they hold its most informative words).
SEARCH = """
WITH stats AS MATERIALIZED (
    SELECT (CASE WHEN c.reltuples < 10000 THEN (SELECT count(*) FROM search_documents)
                 ELSE c.reltuples END)::float8 AS n
    FROM pg_class c WHERE c.oid = 'search_documents'::regclass
),
terms AS MATERIALIZED (
    SELECT t.lexeme, t.literal, t.slot, t.optional, coalesce(df.ndoc, 0) AS df,
           ln(1 + (greatest(s.n, max(df.ndoc) OVER w) - max(df.ndoc) OVER w + 0.5)
                  / (max(df.ndoc) OVER w + 0.5)) AS idf
    FROM unnest(%(lexemes)s::text[], %(literals)s::text[], %(slots)s::int[], %(optional)s::bool[])
         AS t(lexeme, literal, slot, optional)
    CROSS JOIN stats s
    LEFT JOIN LATERAL (SELECT max(v.ndoc) AS ndoc FROM search_words v WHERE v.word = t.lexeme)
         AS df ON true
    WINDOW w AS (PARTITION BY t.slot)
),
title_hits AS MATERIALIZED (
    SELECT article_id FROM search_documents
    WHERE %(every_first)s
      AND title_tsv @@ %(every)s::tsquery AND (NOT %(negated)s OR tsv @@ %(every)s::tsquery)
    LIMIT %(cap)s
),
every_hits AS MATERIALIZED (
    SELECT article_id FROM title_hits
    UNION ALL
    (SELECT article_id
     FROM (SELECT article_id, tsv FROM search_documents
           WHERE %(every_first)s AND tsv @@ %(every_loose)s::tsquery
           LIMIT %(scan)s) AS loose
     WHERE NOT %(every_exact)s OR tsv @@ %(every)s::tsquery
     LIMIT greatest(0, %(cap)s - (SELECT count(*) FROM title_hits)))
),
word_hits AS (
    SELECT h.article_id, t.slot, t.idf
    FROM (SELECT literal, slot, idf FROM terms WHERE optional AND df > 0 ORDER BY df, lexeme)
         AS t
    CROSS JOIN LATERAL (
        SELECT article_id, tsv FROM search_documents
        WHERE tsv @@ (CASE WHEN %(conditions)s::text IS NULL THEN t.literal::tsquery
                           ELSE t.literal::tsquery && %(conditions)s::tsquery END)
        LIMIT %(cap)s
    ) AS h
    WHERE NOT %(exact)s OR h.tsv @@ %(tsq)s::tsquery
    LIMIT CASE WHEN (SELECT count(*) FROM every_hits) < %(cap)s THEN %(gather)s ELSE 0 END
),
word_picks AS (
    SELECT article_id
    FROM (SELECT article_id, slot, max(idf) AS idf FROM word_hits GROUP BY article_id, slot)
         AS held
    WHERE article_id NOT IN (SELECT article_id FROM every_hits)
    GROUP BY article_id
    ORDER BY sum(idf) DESC, article_id DESC
    LIMIT greatest(0, %(cap)s - (SELECT count(*) FROM every_hits))
),
filtered AS MATERIALIZED (
    SELECT d.article_id AS id, length(d.tsv)::float8 AS dl, length(d.title_tsv)::float8 AS tl,
           ts_filter(setweight(d.tsv, 'C', %(lexemes)s::text[]), '{c}') AS anywhere,
           ts_filter(setweight(d.title_tsv, 'A', %(lexemes)s::text[]), '{a}') AS title
    FROM (SELECT article_id FROM every_hits UNION SELECT article_id FROM word_picks) AS c
    JOIN search_documents d USING (article_id)
),
-- Each tsvector is read (detoasted) once: whether a candidate holds every group is asked of
-- its query words alone (with their positions, for phrases; its exclusions were checked).
docs AS MATERIALIZED (
    SELECT *, anywhere @@ %(every)s::tsquery AS every FROM filtered
),
norms AS (
    SELECT greatest(avg(dl), 1) AS dl, greatest(avg(tl), 1) AS tl FROM docs
),
frequencies AS MATERIALIZED (
    SELECT d.id, t.slot, t.idf,
           %(title_weight)s * f.title / (1 - %(title_b)s + %(title_b)s * d.tl / n.tl)
           + (f.anywhere - f.title) / (1 - %(b)s + %(b)s * d.dl / n.dl) AS tf
    FROM docs d
    CROSS JOIN norms n
    CROSS JOIN LATERAL (
        SELECT a.lexeme, cardinality(a.positions)::float8 AS anywhere,
               coalesce(cardinality(x.positions), 0)::float8 AS title
        FROM unnest(d.anywhere) AS a LEFT JOIN unnest(d.title) AS x USING (lexeme)
    ) AS f
    JOIN terms t ON t.lexeme = f.lexeme
),
scores AS (
    SELECT id, sum(best) AS bm25
    FROM (SELECT id, max(idf * tf / (%(k1)s + tf)) AS best FROM frequencies GROUP BY id, slot)
         AS per_slot
    GROUP BY id
),
ranked AS (
    SELECT d.id,
           (d.every::int + coalesce(s.bm25, 0) / (1 + coalesce(s.bm25, 0)))
               ::float8 AS rank
    FROM docs d LEFT JOIN scores s USING (id)
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
