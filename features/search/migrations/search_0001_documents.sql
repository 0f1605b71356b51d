-- depends: articles_0001_create
-- Search's own copy of each article's text as weighted tsvectors, kept in step with `articles`
-- by statement-level triggers (same transaction as the write; articles' code knows nothing).
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS unaccent;

-- English stemming with accents folded first: `café` and `cafe` are the same lexeme.
CREATE TEXT SEARCH CONFIGURATION search_en (COPY = pg_catalog.english);
ALTER TEXT SEARCH CONFIGURATION search_en
    ALTER MAPPING FOR hword, hword_part, word WITH unaccent, english_stem;

-- title_tsv: the title alone (its own index finds title matches first, see queries.py);
-- tsv: title weighted A plus body weighted B, what results are ranked by.
CREATE TABLE search_documents (
    article_id bigint PRIMARY KEY,
    title_tsv  tsvector NOT NULL,
    tsv        tsvector NOT NULL
);
-- fastupdate off: no pending list for every query to scan; writes pay instead of reads.
CREATE INDEX search_documents_tsv_idx ON search_documents
    USING gin (tsv) WITH (fastupdate = off);
CREATE INDEX search_documents_title_idx ON search_documents
    USING gin (title_tsv) WITH (fastupdate = off);

-- The parser reads `<...>` as markup (and skips what follows `<script>`), but articles are
-- plain text: angle brackets become spaces so every word is indexed.
CREATE FUNCTION search_vectors(title text, body text, OUT title_tsv tsvector, OUT tsv tsvector)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT t.v, setweight(t.v, 'A')
                || setweight(to_tsvector('search_en'::regconfig, translate(body, '<>', '  ')), 'B')
    FROM (SELECT to_tsvector('search_en'::regconfig, translate(title, '<>', '  ')) AS v) AS t;
END;

CREATE FUNCTION search_documents_from_articles() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM search_documents d USING old_rows o WHERE d.article_id = o.id;
    ELSIF TG_OP = 'INSERT' THEN
        INSERT INTO search_documents (article_id, title_tsv, tsv)
        SELECT n.id, v.title_tsv, v.tsv
        FROM new_rows n CROSS JOIN LATERAL search_vectors(n.title, n.body) v
        ORDER BY n.id;
    ELSE
        UPDATE search_documents d SET title_tsv = v.title_tsv, tsv = v.tsv
        FROM new_rows n
        JOIN old_rows o ON o.id = n.id
        CROSS JOIN LATERAL search_vectors(n.title, n.body) v
        WHERE d.article_id = n.id
          AND (n.title IS DISTINCT FROM o.title OR n.body IS DISTINCT FROM o.body);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER search_articles_inserted AFTER INSERT ON articles
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION search_documents_from_articles();
CREATE TRIGGER search_articles_updated AFTER UPDATE ON articles
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION search_documents_from_articles();
CREATE TRIGGER search_articles_deleted AFTER DELETE ON articles
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION search_documents_from_articles();

-- Articles already present when this migration runs.
INSERT INTO search_documents (article_id, title_tsv, tsv)
SELECT a.id, v.title_tsv, v.tsv FROM articles a CROSS JOIN LATERAL search_vectors(a.title, a.body) v;
