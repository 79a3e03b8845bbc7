-- 0004_exemplar_vectors.sql: learned exemplars outlive the message text they came from, as vectors only.
--
-- A moderator's verdict becomes a per-server exemplar (0002). Until now it kept the message text for good, even
-- after the incident's content snapshot was purged (retention, or the author deleted the message). Now the
-- exemplar also stores its sentence embedding (float32, L2-normalised), which is all the detector needs; when
-- the incident's content is purged, this trigger blanks the exemplar's text in the same statement, whichever code
-- path purged it. The detector keeps what it learned (from the vector); the words are gone.

ALTER TABLE server_exemplars ADD COLUMN embedding BLOB;
ALTER TABLE server_exemplars ADD COLUMN text_purged_at TEXT;

CREATE TRIGGER server_exemplars_purge_with_incident AFTER UPDATE OF content ON incidents
WHEN NEW.content IS NULL AND OLD.content IS NOT NULL
BEGIN
    UPDATE server_exemplars
       SET text = '', text_purged_at = COALESCE(NEW.content_purged_at, NEW.updated_at)
     WHERE incident_id = NEW.id AND text <> '';
END;
