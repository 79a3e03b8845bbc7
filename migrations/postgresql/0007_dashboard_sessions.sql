-- 0007_dashboard_sessions.sql (PostgreSQL): dashboard logins live in the database
-- (see ../0007_dashboard_sessions.sql).

CREATE TABLE dashboard_sessions (
    sid_hash    TEXT PRIMARY KEY,
    username    TEXT NOT NULL,
    address     TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    revoked_at  TEXT
);

CREATE INDEX idx_dashboard_sessions_login ON dashboard_sessions (username, address, created_at);
CREATE INDEX idx_dashboard_sessions_expiry ON dashboard_sessions (expires_at);
