-- 0008_campaigns.sql: campaigns (issue 16): one talking point or one copypasta pushed by several accounts
-- within a short window.
--
--   campaigns          one row per campaign, with its moderator alert (one per campaign, edited as it grows)
--   campaign_messages  the messages of a campaign; content is purged with the message (delete, retention,
--                      member purge) like incident content

CREATE TABLE campaigns (
    id                INTEGER PRIMARY KEY,
    platform          TEXT    NOT NULL,
    server_id         TEXT    NOT NULL,
    kind              TEXT    NOT NULL,               -- 'talking_point' | 'copypasta'
    talking_point_id  TEXT,
    status            TEXT    NOT NULL DEFAULT 'open',
    first_at          TEXT    NOT NULL,
    last_at           TEXT    NOT NULL,
    alert_channel_id  TEXT,
    alert_message_id  TEXT,
    resolved_by       TEXT,
    resolved_at       TEXT,
    created_at        TEXT    NOT NULL
);

CREATE INDEX idx_campaigns_server ON campaigns (platform, server_id, status, last_at);
CREATE INDEX idx_campaigns_alert ON campaigns (platform, alert_message_id);

CREATE TABLE campaign_messages (
    campaign_id       INTEGER NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    channel_id        TEXT    NOT NULL,
    message_id        TEXT    NOT NULL,
    author_id         TEXT    NOT NULL,
    content           TEXT,                           -- NULL once purged
    link              TEXT    NOT NULL DEFAULT '',
    stance            TEXT,
    incident_id       INTEGER,
    author_created_at TEXT,
    author_joined_at  TEXT,
    at                TEXT    NOT NULL,
    PRIMARY KEY (campaign_id, channel_id, message_id)
);

CREATE INDEX idx_campaign_messages_msg ON campaign_messages (channel_id, message_id);
CREATE INDEX idx_campaign_messages_author ON campaign_messages (author_id);
CREATE INDEX idx_campaign_messages_at ON campaign_messages (at);
