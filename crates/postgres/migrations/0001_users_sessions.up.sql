-- Users and their login sessions. Passwords are argon2id hashes; a session keeps only
-- the blake3 hash of its token. Ids are UUIDv7; every timestamp is timestamptz in UTC.
-- Names are compared and sorted in byte order (COLLATE "C"), as on every backend.
CREATE TABLE users (
    id                   uuid PRIMARY KEY,
    username             text COLLATE "C" NOT NULL,
    -- The username lower-cased (all of Unicode): what uniqueness and lookups use.
    username_key         text COLLATE "C" NOT NULL UNIQUE,
    email                text COLLATE "C" NOT NULL UNIQUE,
    password_hash        text NOT NULL,
    full_name            text,
    is_active            boolean NOT NULL DEFAULT true,
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL,
    last_login_at        timestamptz,
    preferred_llm        text NOT NULL DEFAULT 'ollama',
    explainability_level text NOT NULL DEFAULT 'detailed'
                         CHECK (explainability_level IN ('basic', 'detailed', 'debug')),
    metadata             jsonb NOT NULL DEFAULT '{}'
);

CREATE INDEX idx_users_is_active ON users(is_active);

CREATE TABLE user_sessions (
    id               uuid PRIMARY KEY,
    user_id          uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash       text NOT NULL UNIQUE,
    created_at       timestamptz NOT NULL,
    expires_at       timestamptz NOT NULL,
    last_activity_at timestamptz NOT NULL,
    revoked_at       timestamptz,
    user_agent       text
);

CREATE INDEX idx_user_sessions_user_id ON user_sessions(user_id);
CREATE INDEX idx_user_sessions_expires_at ON user_sessions(expires_at);
