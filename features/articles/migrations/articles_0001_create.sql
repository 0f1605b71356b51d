-- Articles: the service's own resource. source_key is the stable external key that
-- importers (e.g. features/external) upsert by; NULL for articles written through the API.
CREATE TABLE articles (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    title       text        NOT NULL,
    slug        text        NOT NULL,
    body        text        NOT NULL,
    source_key  text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT articles_slug_key UNIQUE (slug),
    CONSTRAINT articles_source_key_key UNIQUE (source_key)
);

-- Keyset pages, newest first: (created_at, id) descending.
CREATE INDEX articles_created_id_idx ON articles (created_at DESC, id DESC);
