-- depends: articles_0001_create
-- External import state. external_fetch_state: what the last import of a URL returned, so the
-- next fetch of it can be conditional (If-None-Match / If-Modified-Since). external_feeds: feeds
-- registered for scheduled refresh, when each is due next, and how its last import went.
CREATE TABLE external_fetch_state (
    url            text        PRIMARY KEY,
    etag           text,
    last_modified  text,
    max_items      integer,  -- NULL: that import took every item of the document
    imported_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE external_feeds (
    id               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    url              text        NOT NULL,
    interval_minutes integer     NOT NULL CHECK (interval_minutes BETWEEN 5 AND 1440),
    next_due_at      timestamptz NOT NULL DEFAULT now(),
    failures         integer     NOT NULL DEFAULT 0,  -- consecutive, drives the backoff
    last_import_at   timestamptz,
    last_status      text        CHECK (last_status IN ('imported', 'not_modified', 'failed')),
    last_error       text,
    last_fetched     integer,
    last_created     integer,
    last_updated     integer,
    last_unchanged   integer,
    last_skipped     integer,
    created_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT external_feeds_url_key UNIQUE (url)
);

-- The scheduler's claim: due feeds, oldest due first.
CREATE INDEX external_feeds_due_idx ON external_feeds (next_due_at);
