-- depends: articles_0001_create
-- updated_at is set by the database on every UPDATE and only ever moves forward, even for two
-- updates within one microsecond or a clock step back: ETags ("<id>-<updated_at>") stay strong.
-- clock_timestamp(), not now(): now() is the transaction's start, the same for quick updates.
-- created_at never changes, so an article keeps its place in keyset pages.
CREATE FUNCTION articles_touch() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.created_at := OLD.created_at;
    NEW.updated_at := greatest(clock_timestamp(), OLD.updated_at + interval '1 microsecond');
    RETURN NEW;
END
$$;

CREATE TRIGGER articles_touch
    BEFORE UPDATE ON articles
    FOR EACH ROW EXECUTE FUNCTION articles_touch();
