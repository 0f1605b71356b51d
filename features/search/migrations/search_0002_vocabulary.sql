-- depends: search_0001_documents
-- The vocabulary: every lexeme in search_documents with the number of documents holding it.
-- Typo correction (trigram index) and prefix completion (btree, "C" collation for LIKE 'p%')
-- read it; triggers on search_documents keep it exact in the same transaction as the write.
CREATE TABLE search_vocab (
    word text COLLATE "C" PRIMARY KEY,
    ndoc integer NOT NULL
);
CREATE INDEX search_vocab_trgm_idx ON search_vocab USING gin (word gin_trgm_ops);

CREATE FUNCTION search_vocab_from_documents() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- Rows are upserted in word order so concurrent writers lock them in the same order.
    IF TG_OP = 'INSERT' THEN
        INSERT INTO search_vocab (word, ndoc)
        SELECT w, count(*) FROM new_docs, unnest(tsvector_to_array(tsv)) AS w
        GROUP BY w ORDER BY w
        ON CONFLICT (word) DO UPDATE SET ndoc = search_vocab.ndoc + EXCLUDED.ndoc;
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        INSERT INTO search_vocab (word, ndoc)
        SELECT w, sum(delta) FROM (
            SELECT unnest(tsvector_to_array(tsv)) AS w, 1 AS delta FROM new_docs
            UNION ALL
            SELECT unnest(tsvector_to_array(tsv)), -1 FROM old_docs
        ) AS changes
        GROUP BY w HAVING sum(delta) <> 0 ORDER BY w
        ON CONFLICT (word) DO UPDATE SET ndoc = search_vocab.ndoc + EXCLUDED.ndoc;
    ELSE
        UPDATE search_vocab v SET ndoc = v.ndoc - gone.n
        FROM (
            SELECT w, count(*) AS n FROM old_docs, unnest(tsvector_to_array(tsv)) AS w
            GROUP BY w ORDER BY w
        ) AS gone
        WHERE v.word = gone.w;
    END IF;
    DELETE FROM search_vocab
    WHERE ndoc <= 0 AND word IN (SELECT unnest(tsvector_to_array(tsv)) FROM old_docs);
    RETURN NULL;
END
$$;

CREATE TRIGGER search_vocab_inserted AFTER INSERT ON search_documents
    REFERENCING NEW TABLE AS new_docs
    FOR EACH STATEMENT EXECUTE FUNCTION search_vocab_from_documents();
CREATE TRIGGER search_vocab_updated AFTER UPDATE ON search_documents
    REFERENCING OLD TABLE AS old_docs NEW TABLE AS new_docs
    FOR EACH STATEMENT EXECUTE FUNCTION search_vocab_from_documents();
CREATE TRIGGER search_vocab_deleted AFTER DELETE ON search_documents
    REFERENCING OLD TABLE AS old_docs
    FOR EACH STATEMENT EXECUTE FUNCTION search_vocab_from_documents();

-- TRUNCATE fires no row triggers: clear search's copies along with articles.
CREATE FUNCTION search_truncated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE search_documents, search_vocab;
    RETURN NULL;
END
$$;
CREATE TRIGGER search_articles_truncated AFTER TRUNCATE ON articles
    FOR EACH STATEMENT EXECUTE FUNCTION search_truncated();

INSERT INTO search_vocab (word, ndoc)
SELECT w, count(*) FROM search_documents, unnest(tsvector_to_array(tsv)) AS w GROUP BY w;

-- The key that signs page cursors, shared by every instance (gen_random_uuid is strong random).
CREATE TABLE search_cursor_key (
    key text NOT NULL
);
INSERT INTO search_cursor_key (key)
SELECT replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '');
