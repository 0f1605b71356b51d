-- depends: articles_0002_versions
-- Where an imported article came from: the item's link and the item's own date, written by
-- importers (upsert by source_key). NULL for articles written through the API.
ALTER TABLE articles
    ADD COLUMN source_url   text,
    ADD COLUMN published_at timestamptz;
