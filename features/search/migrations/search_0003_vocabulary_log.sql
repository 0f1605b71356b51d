-- depends: search_0002_vocabulary
-- Writers no longer update shared vocabulary rows (which made concurrent article writes wait
-- for each other's commit, and deadlock across multi-statement transactions). A write now
-- only appends its per-word deltas to search_vocab_delta (no unique key: inserts never wait);
-- the one writer holding a transaction-level advisory lock, taken without waiting, then folds
-- all committed deltas into search_vocab. Only that lock holder touches search_vocab rows, so
-- nobody waits on them. Readers see exact counts through the search_words view either way.
CREATE TABLE search_vocab_delta (
    word  text COLLATE "C" NOT NULL,
    delta integer NOT NULL
);
CREATE INDEX search_vocab_delta_word_idx ON search_vocab_delta (word);

CREATE VIEW search_words AS
SELECT word, sum(n)::integer AS ndoc
FROM (
    SELECT word, ndoc AS n FROM search_vocab
    UNION ALL
    SELECT word, delta FROM search_vocab_delta
) AS counts
GROUP BY word
HAVING sum(n) > 0;

CREATE OR REPLACE FUNCTION search_vocab_from_documents() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    emptied text[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO search_vocab_delta (word, delta)
        SELECT w, count(*) FROM new_docs, unnest(tsvector_to_array(tsv)) AS w GROUP BY w;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO search_vocab_delta (word, delta)
        SELECT w, sum(d) FROM (
            SELECT unnest(tsvector_to_array(tsv)) AS w, 1 AS d FROM new_docs
            UNION ALL
            SELECT unnest(tsvector_to_array(tsv)), -1 FROM old_docs
        ) AS changes
        GROUP BY w HAVING sum(d) <> 0;
    ELSE
        INSERT INTO search_vocab_delta (word, delta)
        SELECT w, -count(*) FROM old_docs, unnest(tsvector_to_array(tsv)) AS w GROUP BY w;
    END IF;
    -- Fold only under READ COMMITTED (each statement sees the latest commits, so a fold never
    -- trips over rows a previous fold removed) and only if no other fold is in progress.
    IF current_setting('transaction_isolation') = 'read committed'
       AND pg_try_advisory_xact_lock(7308604897068083830) THEN
        WITH moved AS (
            DELETE FROM search_vocab_delta RETURNING word, delta
        ), folded AS (
            INSERT INTO search_vocab (word, ndoc)
            SELECT word, sum(delta) FROM moved GROUP BY word ORDER BY word
            ON CONFLICT (word) DO UPDATE SET ndoc = search_vocab.ndoc + EXCLUDED.ndoc
            RETURNING word, ndoc
        )
        SELECT array_agg(word) INTO emptied FROM folded WHERE ndoc <= 0;
        IF emptied IS NOT NULL THEN
            DELETE FROM search_vocab WHERE word = ANY (emptied) AND ndoc <= 0;
        END IF;
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION search_truncated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE search_documents, search_vocab, search_vocab_delta;
    RETURN NULL;
END
$$;
