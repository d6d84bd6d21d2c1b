-- Agent runs and token usage. Usage survives the deletion of its conversation, message
-- or agent run (the link is cleared), since it is a billing record; it goes with its user.
CREATE TABLE agent_logs (
    id             uuid PRIMARY KEY,
    message_id     uuid NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    agent_name     text COLLATE "C" NOT NULL,
    agent_type     text,
    action         text,
    input_data     jsonb,
    output_data    jsonb,
    execution_time double precision,
    tokens_used    bigint,
    status         text CHECK (status IN ('success', 'failed', 'timeout')),
    error_message  text,
    reasoning      text,
    confidence     double precision,
    created_at     timestamptz NOT NULL
);

CREATE INDEX idx_agent_logs_message_id ON agent_logs(message_id, created_at);

-- Provider, model and operation are grouped and sorted by: byte order (COLLATE "C").
CREATE TABLE token_usage (
    id                uuid PRIMARY KEY,
    user_id           uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    conversation_id   uuid REFERENCES conversations(id) ON DELETE SET NULL,
    message_id        uuid REFERENCES messages(id) ON DELETE SET NULL,
    agent_log_id      uuid REFERENCES agent_logs(id) ON DELETE SET NULL,
    provider          text COLLATE "C" NOT NULL,
    model             text COLLATE "C" NOT NULL,
    operation_type    text COLLATE "C" NOT NULL,
    prompt_tokens     bigint NOT NULL DEFAULT 0 CHECK (prompt_tokens >= 0),
    completion_tokens bigint NOT NULL DEFAULT 0 CHECK (completion_tokens >= 0),
    total_tokens      bigint NOT NULL DEFAULT 0 CHECK (total_tokens >= 0),
    embedding_tokens  bigint NOT NULL DEFAULT 0 CHECK (embedding_tokens >= 0),
    estimated_cost    double precision NOT NULL DEFAULT 0 CHECK (estimated_cost >= 0),
    currency          text COLLATE "C" NOT NULL DEFAULT 'USD',
    created_at        timestamptz NOT NULL
);

CREATE INDEX idx_token_usage_user_created ON token_usage(user_id, created_at);
CREATE INDEX idx_token_usage_created_at ON token_usage(created_at);
CREATE INDEX idx_token_usage_conversation_id ON token_usage(conversation_id);
CREATE INDEX idx_token_usage_message_id ON token_usage(message_id);
CREATE INDEX idx_token_usage_agent_log_id ON token_usage(agent_log_id);
