-- 0001_initial.sql: first contextbot schema.
--
-- Conventions
--   * Timestamps are ISO-8601 UTC text with a fixed width, e.g. '2025-01-31T12:00:00.000000Z', so they
--     compare correctly as strings (the storage layer writes them; never store local time here).
--   * Platform ids (guild, channel, room, message, event, user) are TEXT: Matrix ids are not numbers and
--     Discord snowflakes do not fit every client's integer type.
--   * This file is applied by bot/storage/migrator.py inside one transaction together with its
--     schema_migrations row. Do not put BEGIN/COMMIT here and do not create schema_migrations.

-- ------------------------------------------------------------------------------------------ incidents

CREATE TABLE incidents (
    id                INTEGER PRIMARY KEY,
    platform          TEXT    NOT NULL,
    server_id         TEXT    NOT NULL DEFAULT '',
    channel_id        TEXT    NOT NULL,
    message_id        TEXT    NOT NULL,
    message_link      TEXT    NOT NULL DEFAULT '',
    author_id         TEXT    NOT NULL,
    content           TEXT,                          -- NULL once purged (message deleted / retention)
    content_purged_at TEXT,
    talking_point_id  TEXT    NOT NULL,
    stance            TEXT    NOT NULL,
    score             REAL    NOT NULL DEFAULT 0,
    match_score       REAL    NOT NULL DEFAULT 0,
    action            TEXT    NOT NULL,
    status            TEXT    NOT NULL DEFAULT 'open'
                      CHECK (status IN ('open', 'confirmed', 'false_positive', 'dismissed')),
    reviewer          TEXT,
    note              TEXT,
    explanation_json  TEXT    NOT NULL DEFAULT '{}',
    group_id          INTEGER,                       -- id of the group's first incident (its own id for the first)
    hit_count         INTEGER NOT NULL DEFAULT 1,    -- on the group's first row: number of incidents in the group
    created_at        TEXT    NOT NULL,
    updated_at        TEXT    NOT NULL,
    resolved_at       TEXT
);

CREATE INDEX idx_incidents_message  ON incidents (platform, channel_id, message_id);
CREATE INDEX idx_incidents_status   ON incidents (status, created_at);
CREATE INDEX idx_incidents_tp       ON incidents (talking_point_id);
CREATE INDEX idx_incidents_grouping ON incidents (server_id, author_id, talking_point_id, created_at);
CREATE INDEX idx_incidents_created  ON incidents (created_at);

-- ----------------------------------------------------------------------------------------- card posts

CREATE TABLE card_posts (
    id                INTEGER PRIMARY KEY,
    platform          TEXT    NOT NULL,
    server_id         TEXT    NOT NULL DEFAULT '',
    channel_id        TEXT    NOT NULL,
    thread_id         TEXT    NOT NULL DEFAULT '',
    source_message_id TEXT    NOT NULL,
    post_message_id   TEXT    NOT NULL,
    talking_point_id  TEXT    NOT NULL,
    author_id         TEXT    NOT NULL,
    incident_id       INTEGER REFERENCES incidents (id) ON DELETE SET NULL,
    lang              TEXT    NOT NULL DEFAULT 'en',
    pack_version      TEXT    NOT NULL DEFAULT '',
    created_at        TEXT    NOT NULL,
    retracted         INTEGER NOT NULL DEFAULT 0 CHECK (retracted IN (0, 1)),
    UNIQUE (platform, post_message_id)
);

CREATE INDEX idx_card_posts_channel  ON card_posts (platform, channel_id, created_at);
CREATE INDEX idx_card_posts_source   ON card_posts (platform, channel_id, source_message_id);
CREATE INDEX idx_card_posts_incident ON card_posts (incident_id);

CREATE TABLE card_feedback (
    card_post_id INTEGER NOT NULL REFERENCES card_posts (id) ON DELETE CASCADE,
    user_id      TEXT    NOT NULL,
    helpful      INTEGER NOT NULL CHECK (helpful IN (0, 1)),
    created_at   TEXT    NOT NULL,
    updated_at   TEXT    NOT NULL,
    PRIMARY KEY (card_post_id, user_id)
);

CREATE TABLE suppressed_replies (
    id                INTEGER PRIMARY KEY,
    platform          TEXT NOT NULL,
    server_id         TEXT NOT NULL DEFAULT '',
    channel_id        TEXT NOT NULL,
    source_message_id TEXT NOT NULL,
    talking_point_id  TEXT NOT NULL,
    reason            TEXT NOT NULL DEFAULT '',
    created_at        TEXT NOT NULL
);

CREATE INDEX idx_suppressed_channel ON suppressed_replies (platform, channel_id, created_at);

-- ------------------------------------------------------------------------------------------- settings

CREATE TABLE server_settings (
    platform          TEXT    NOT NULL,
    server_id         TEXT    NOT NULL,
    default_mode      TEXT    NOT NULL DEFAULT 'review',
    modlog_channel_id TEXT,
    cooldown_s        REAL    NOT NULL DEFAULT 1800,
    author_cooldown_s REAL    NOT NULL DEFAULT 600,
    hourly_cap        INTEGER NOT NULL DEFAULT 6,
    disabled_packs    TEXT    NOT NULL DEFAULT '[]',  -- JSON array of pack ids
    moderator_role_id TEXT,
    extra             TEXT    NOT NULL DEFAULT '{}',  -- JSON object
    updated_at        TEXT    NOT NULL,
    PRIMARY KEY (platform, server_id)
);

CREATE TABLE channel_settings (
    platform   TEXT NOT NULL,
    server_id  TEXT NOT NULL DEFAULT '',
    channel_id TEXT NOT NULL,
    mode       TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (platform, channel_id)
);

CREATE TABLE kv (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
