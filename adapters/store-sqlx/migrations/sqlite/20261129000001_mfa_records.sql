-- One row per user: the record's compare-and-swap version, the record in
-- mfa-flow's stored format (JSON text), and timestamps (Unix seconds).
CREATE TABLE IF NOT EXISTS mfa_records (
    user_id    TEXT    NOT NULL PRIMARY KEY,
    version    INTEGER NOT NULL CHECK (version >= 1),
    record     TEXT    NOT NULL,
    created_at INTEGER NOT NULL DEFAULT (unixepoch()),
    updated_at INTEGER NOT NULL DEFAULT (unixepoch())
) STRICT;
