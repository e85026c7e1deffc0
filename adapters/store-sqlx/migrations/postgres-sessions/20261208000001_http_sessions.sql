-- One row per session: its id as tower-sessions writes it (hashed first
-- when the application wraps the store in mfa-axum's HashedSessionIds), its
-- data as JSON text, and when it expires (Unix seconds).
CREATE TABLE IF NOT EXISTS http_sessions (
    id         TEXT   NOT NULL PRIMARY KEY,
    data       TEXT   NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE INDEX IF NOT EXISTS http_sessions_expires_at ON http_sessions (expires_at);
