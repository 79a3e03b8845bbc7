-- 0005_alert_posts.sql: the moderator alerts the bot posted, so it can edit them later.
--
-- An alert quotes the message it is about. When that message is deleted, or its snapshot is purged by retention,
-- the alert must lose its excerpt too ("content removed"), and it must keep its id, because moderators resolve
-- incidents by reacting on it. ``content_removed`` records that the alert was edited after the incident's
-- content went, so a sweep finds the alerts that still show purged text with one query.

CREATE TABLE alert_posts (
    id              INTEGER PRIMARY KEY,
    platform        TEXT    NOT NULL,
    incident_id     INTEGER NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    channel_id      TEXT    NOT NULL,               -- the moderators' room / channel holding the alert
    post_message_id TEXT    NOT NULL,               -- the alert's own event / message id
    content_removed INTEGER NOT NULL DEFAULT 0 CHECK (content_removed IN (0, 1)),
    created_at      TEXT    NOT NULL,
    UNIQUE (platform, post_message_id)
);

CREATE INDEX idx_alert_posts_incident ON alert_posts (incident_id);
CREATE INDEX idx_alert_posts_pending  ON alert_posts (platform, content_removed);

-- Matrix alerts posted before this migration were remembered in kv as 'matrix:alert:<event id>' -> incident id
-- (the room was always the management room, unknown here: '' means "the configured management room").
INSERT OR IGNORE INTO alert_posts (platform, incident_id, channel_id, post_message_id, created_at)
SELECT 'matrix', CAST(kv.value AS INTEGER), '', substr(kv.key, length('matrix:alert:') + 1), kv.updated_at
  FROM kv
 WHERE kv.key LIKE 'matrix:alert:%'
   AND kv.value GLOB '[0-9]*'
   AND EXISTS (SELECT 1 FROM incidents WHERE id = CAST(kv.value AS INTEGER));
