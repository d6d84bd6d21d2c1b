-- Users and their login sessions. Passwords are argon2id hashes; a session keeps only
-- the blake3 hash of its token. Ids are UUIDv7 text, timestamps RFC 3339 text in UTC.
CREATE TABLE users (
    id                   TEXT PRIMARY KEY,
    username             TEXT NOT NULL,
    -- The username lower-cased (all of Unicode, not only ASCII): what uniqueness and
    -- lookups use, so "Ådne" and "ådne" are one name.
    username_key         TEXT NOT NULL UNIQUE,
    email                TEXT NOT NULL UNIQUE,
    password_hash        TEXT NOT NULL,
    full_name            TEXT,
    is_active            INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL,
    last_login_at        TEXT,
    preferred_llm        TEXT NOT NULL DEFAULT 'ollama',
    explainability_level TEXT NOT NULL DEFAULT 'detailed'
                         CHECK (explainability_level IN ('basic', 'detailed', 'debug')),
    metadata             TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata))
) STRICT;

CREATE INDEX idx_users_is_active ON users(is_active);

CREATE TABLE user_sessions (
    id               TEXT PRIMARY KEY,
    user_id          TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash       TEXT NOT NULL UNIQUE,
    created_at       TEXT NOT NULL,
    expires_at       TEXT NOT NULL,
    last_activity_at TEXT NOT NULL,
    revoked_at       TEXT,
    user_agent       TEXT
) STRICT;

CREATE INDEX idx_user_sessions_user_id ON user_sessions(user_id);
CREATE INDEX idx_user_sessions_expires_at ON user_sessions(expires_at);
