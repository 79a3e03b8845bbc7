-- 0005_alert_posts.sql: the moderator alerts the bot posted, so later hits update an alert instead of posting
-- a new one, and an alert's excerpts can be edited out when the message is deleted or its content purged.
--
--   alert_posts      one row per alert message (platform-neutral: a Discord message or a Matrix event)
--   alert_incidents  every incident an alert stands for: its first incident (whose verdict buttons it carries)
--                    and the later hits folded into it (repeats of the group, or the same talking point in the
--                    same channel within the alert window)

CREATE TABLE alert_posts (
    id                INTEGER PRIMARY KEY,
    platform          TEXT    NOT NULL,
    server_id         TEXT    NOT NULL,
    alert_channel_id  TEXT    NOT NULL,               -- where the alert was posted (the moderator channel)
    alert_message_id  TEXT    NOT NULL,
    incident_id       INTEGER NOT NULL,               -- the first incident
    group_id          INTEGER NOT NULL,               -- that incident's group
    talking_point_id  TEXT    NOT NULL,
    source_channel_id TEXT    NOT NULL,               -- where the first incident's message was
    last_incident_id  INTEGER NOT NULL,               -- the latest hit (its excerpt is shown)
    content_removed   INTEGER NOT NULL DEFAULT 0,     -- 1 once the excerpts were edited out (nothing left to show)
    created_at        TEXT    NOT NULL,
    updated_at        TEXT    NOT NULL
);

CREATE INDEX idx_alert_posts_fold ON alert_posts (platform, server_id, talking_point_id, created_at);

CREATE TABLE alert_incidents (
    alert_id    INTEGER NOT NULL REFERENCES alert_posts (id) ON DELETE CASCADE,
    incident_id INTEGER NOT NULL,
    PRIMARY KEY (alert_id, incident_id)
);

CREATE INDEX idx_alert_incidents_incident ON alert_incidents (incident_id);
