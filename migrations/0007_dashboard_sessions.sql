-- 0007_dashboard_sessions.sql: dashboard logins live in the database, so logging out survives a restart.
--
-- The session cookie stays signed (HMAC-SHA256, see bot/dashboard/auth.py); a logged-in cookie is honoured only
-- while its row here exists, is unexpired and not revoked. Logging out (or logging in again over an old session)
-- sets revoked_at. The session id itself is not stored, only its SHA-256, so a copy of the database cannot be
-- turned into cookies. The rows also tell the login throttle which addresses an account has logged in from
-- before (those are not held up by failures of other accounts or from other addresses). Rows are deleted 30
-- days after they expire.

CREATE TABLE dashboard_sessions (
    sid_hash    TEXT PRIMARY KEY,             -- hex SHA-256 of the session id in the cookie
    username    TEXT NOT NULL,
    address     TEXT NOT NULL DEFAULT '',     -- the client address the login came from
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    revoked_at  TEXT                          -- logged out
);

CREATE INDEX idx_dashboard_sessions_login ON dashboard_sessions (username, address, created_at);
CREATE INDEX idx_dashboard_sessions_expiry ON dashboard_sessions (expires_at);
