-- Agent runs and token usage. Usage survives the deletion of its conversation, message
-- or agent run (the link is cleared), since it is a billing record; it goes with its user.
CREATE TABLE agent_logs (
    id             TEXT PRIMARY KEY,
    message_id     TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    agent_name     TEXT NOT NULL,
    agent_type     TEXT,
    action         TEXT,
    input_data     TEXT CHECK (input_data IS NULL OR json_valid(input_data)),
    output_data    TEXT CHECK (output_data IS NULL OR json_valid(output_data)),
    execution_time REAL,
    tokens_used    INTEGER,
    status         TEXT CHECK (status IN ('success', 'failed', 'timeout')),
    error_message  TEXT,
    reasoning      TEXT,
    confidence     REAL,
    created_at     TEXT NOT NULL
) STRICT;

CREATE INDEX idx_agent_logs_message_id ON agent_logs(message_id, created_at);

CREATE TABLE token_usage (
    id                TEXT PRIMARY KEY,
    user_id           TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    conversation_id   TEXT REFERENCES conversations(id) ON DELETE SET NULL,
    message_id        TEXT REFERENCES messages(id) ON DELETE SET NULL,
    agent_log_id      TEXT REFERENCES agent_logs(id) ON DELETE SET NULL,
    provider          TEXT NOT NULL,
    model             TEXT NOT NULL,
    operation_type    TEXT NOT NULL,
    prompt_tokens     INTEGER NOT NULL DEFAULT 0 CHECK (prompt_tokens >= 0),
    completion_tokens INTEGER NOT NULL DEFAULT 0 CHECK (completion_tokens >= 0),
    total_tokens      INTEGER NOT NULL DEFAULT 0 CHECK (total_tokens >= 0),
    embedding_tokens  INTEGER NOT NULL DEFAULT 0 CHECK (embedding_tokens >= 0),
    estimated_cost    REAL NOT NULL DEFAULT 0 CHECK (estimated_cost >= 0),
    currency          TEXT NOT NULL DEFAULT 'USD',
    created_at        TEXT NOT NULL
) STRICT;

CREATE INDEX idx_token_usage_user_created ON token_usage(user_id, created_at);
CREATE INDEX idx_token_usage_created_at ON token_usage(created_at);
CREATE INDEX idx_token_usage_conversation_id ON token_usage(conversation_id);
CREATE INDEX idx_token_usage_message_id ON token_usage(message_id);
CREATE INDEX idx_token_usage_agent_log_id ON token_usage(agent_log_id);
