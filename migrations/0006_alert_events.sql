-- 0006_alert_events.sql: every moderator alert the bot posted (its event or message id), so it can edit it later.
-- (0005 alert_posts groups Discord alerts for folding later hits into them; this table is the per-alert record the
-- Matrix adapter edits and reacts on.)
--
-- An alert quotes the message it is about. When that message is deleted, or its snapshot is purged by retention,
-- the alert must lose its excerpt too ("content removed"), and it must keep its id, because moderators resolve
-- incidents by reacting on it. ``content_removed`` records that the alert was edited after the incident's
-- content went, so a sweep finds the alerts that still show purged text with one query.

CREATE TABLE alert_events (
    id              INTEGER PRIMARY KEY,
    platform        TEXT    NOT NULL,
    incident_id     INTEGER NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    channel_id      TEXT    NOT NULL,               -- the moderators' room / channel holding the alert
    post_message_id TEXT    NOT NULL,               -- the alert's own event / message id
    content_removed INTEGER NOT NULL DEFAULT 0 CHECK (content_removed IN (0, 1)),
    created_at      TEXT    NOT NULL,
    UNIQUE (platform, post_message_id)
);

CREATE INDEX idx_alert_events_incident ON alert_events (incident_id);
CREATE INDEX idx_alert_events_pending  ON alert_events (platform, content_removed);

-- Matrix alerts posted before this migration were remembered in kv as 'matrix:alert:<event id>' -> incident id
-- (the room was always the management room, unknown here: '' means "the configured management room").
INSERT OR IGNORE INTO alert_events (platform, incident_id, channel_id, post_message_id, created_at)
SELECT 'matrix', CAST(kv.value AS INTEGER), '', substr(kv.key, length('matrix:alert:') + 1), kv.updated_at
  FROM kv
 WHERE kv.key LIKE 'matrix:alert:%'
   AND kv.value GLOB '[0-9]*'
   AND EXISTS (SELECT 1 FROM incidents WHERE id = CAST(kv.value AS INTEGER));
