-- 0004_exemplar_vectors.sql (PostgreSQL): exemplars keep their vector; purging an incident's content blanks the
-- exemplar's text in the same statement (see ../0004_exemplar_vectors.sql).

ALTER TABLE server_exemplars ADD COLUMN embedding BYTEA;
ALTER TABLE server_exemplars ADD COLUMN text_purged_at TEXT;

CREATE FUNCTION server_exemplars_purge_with_incident() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE server_exemplars
       SET text = '', text_purged_at = COALESCE(NEW.content_purged_at, NEW.updated_at)
     WHERE incident_id = NEW.id AND text <> '';
    RETURN NULL;
END;
$$;

CREATE TRIGGER server_exemplars_purge_with_incident AFTER UPDATE OF content ON incidents
    FOR EACH ROW WHEN (NEW.content IS NULL AND OLD.content IS NOT NULL)
    EXECUTE FUNCTION server_exemplars_purge_with_incident();
