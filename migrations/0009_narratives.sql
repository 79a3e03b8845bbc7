-- 0009_narratives.sql: emerging narratives (issue #16 point 3) - on-topic assertions that match no talking
-- point, clustered for pack authors. Member text follows the incident privacy rules: it is set to NULL by the
-- retention purge and removed by user/channel/server purges (see bot/storage/narratives.py).
--
--   narrative_clusters  one row per cluster centre (vector: float32 bytes of the unit centre)
--   narrative_members   every message that joined a cluster (text NULL once purged)

CREATE TABLE narrative_clusters (
    id          INTEGER PRIMARY KEY,
    centre      BLOB    NOT NULL,
    size        INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL
);

CREATE TABLE narrative_members (
    id               INTEGER PRIMARY KEY,
    cluster_id       INTEGER NOT NULL REFERENCES narrative_clusters (id) ON DELETE CASCADE,
    platform         TEXT    NOT NULL,
    server_id        TEXT    NOT NULL,
    channel_id       TEXT    NOT NULL,
    message_id       TEXT    NOT NULL,
    author_id        TEXT    NOT NULL,
    lang             TEXT    NOT NULL DEFAULT 'en',
    content          TEXT,
    similarity       REAL    NOT NULL DEFAULT 1.0,
    p_assert         REAL    NOT NULL DEFAULT 0.0,
    created_at       TEXT    NOT NULL,
    content_purged_at TEXT
);

CREATE INDEX idx_narrative_members_cluster ON narrative_members (cluster_id, created_at);
CREATE INDEX idx_narrative_members_author ON narrative_members (platform, author_id);
CREATE INDEX idx_narrative_members_channel ON narrative_members (platform, channel_id);
CREATE INDEX idx_narrative_members_server ON narrative_members (platform, server_id);
CREATE INDEX idx_narrative_members_time ON narrative_members (created_at);
