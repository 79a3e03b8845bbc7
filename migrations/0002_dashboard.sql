-- 0002_dashboard.sql: the moderators' dashboard (issue #5).
--
--   server_exemplars  moderator verdicts turned into detector exemplars (false positive -> negative,
--                     confirmed -> positive), loaded into the detector at start-up (restore_learning)
--   point_policies    per talking point reply threshold / review-only switch, per server or global
--   dashboard_audit   who did what and when in the dashboard
--
-- Same conventions as 0001 (fixed-width ISO-8601 UTC text timestamps, platform ids as TEXT, no BEGIN/COMMIT).

-- --------------------------------------------------------------------------------- learned exemplars

CREATE TABLE server_exemplars (
    id               INTEGER PRIMARY KEY,
    platform         TEXT    NOT NULL,
    server_id        TEXT    NOT NULL DEFAULT '',
    talking_point_id TEXT    NOT NULL,
    text             TEXT    NOT NULL,
    lang             TEXT    NOT NULL DEFAULT '',
    positive         INTEGER NOT NULL CHECK (positive IN (0, 1)),   -- 1 confirmed, 0 false positive
    incident_id      INTEGER REFERENCES incidents (id) ON DELETE SET NULL,
    created_by       TEXT    NOT NULL,
    created_at       TEXT    NOT NULL,
    active           INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),  -- 0 once the verdict changed
    retired_at       TEXT,
    promoted         INTEGER NOT NULL DEFAULT 0 CHECK (promoted IN (0, 1)),  -- admin: "promote to pack"
    promoted_stance  TEXT,
    promoted_by      TEXT,
    promoted_at      TEXT
);

CREATE INDEX idx_server_exemplars_server ON server_exemplars (server_id, active);
CREATE INDEX idx_server_exemplars_tp     ON server_exemplars (talking_point_id);
-- one active exemplar per incident (a changed verdict retires the old one first)
CREATE UNIQUE INDEX idx_server_exemplars_incident
    ON server_exemplars (incident_id) WHERE active = 1 AND incident_id IS NOT NULL;

-- ------------------------------------------------------------------------------------ point policies

CREATE TABLE point_policies (
    platform         TEXT    NOT NULL DEFAULT '',   -- '' together with server_id '' = every server
    server_id        TEXT    NOT NULL DEFAULT '',
    talking_point_id TEXT    NOT NULL,
    reply_threshold  REAL    CHECK (reply_threshold IS NULL OR (reply_threshold >= 0 AND reply_threshold <= 1)),
    review_only      INTEGER NOT NULL DEFAULT 0 CHECK (review_only IN (0, 1)),
    updated_by       TEXT    NOT NULL,
    updated_at       TEXT    NOT NULL,
    PRIMARY KEY (platform, server_id, talking_point_id)
);

-- ------------------------------------------------------------------------------------------ audit log

CREATE TABLE dashboard_audit (
    id          INTEGER PRIMARY KEY,
    created_at  TEXT    NOT NULL,
    actor       TEXT    NOT NULL,                -- dashboard username (or the name tried, for failed logins)
    action      TEXT    NOT NULL,                -- login, login_failed, logout, resolve, export, promote, ...
    incident_id INTEGER,                         -- no foreign key: the audit log outlives incidents
    platform    TEXT,
    server_id   TEXT,
    detail      TEXT    NOT NULL DEFAULT '{}'    -- JSON object
);

CREATE INDEX idx_dashboard_audit_created  ON dashboard_audit (created_at);
CREATE INDEX idx_dashboard_audit_incident ON dashboard_audit (incident_id);
