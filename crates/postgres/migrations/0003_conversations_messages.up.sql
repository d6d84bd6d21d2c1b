-- Conversations and their append-only messages.
CREATE TABLE conversations (
    id                    uuid PRIMARY KEY,
    user_id               uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    title                 text,
    status                text NOT NULL DEFAULT 'active'
                          CHECK (status IN ('active', 'archived', 'closed', 'deleted')),
    status_before_delete  text CHECK (status_before_delete IN ('active', 'archived', 'closed')),
    message_count         bigint NOT NULL DEFAULT 0,
    created_at            timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL,
    last_message_at       timestamptz,
    -- last_message_at, or created_at before the first message: the listing order.
    last_activity_at      timestamptz NOT NULL,
    last_opened_at        timestamptz,
    archived_at           timestamptz,
    closed_at             timestamptz,
    deleted_at            timestamptz,
    is_hidden             boolean NOT NULL DEFAULT false,
    hidden_at             timestamptz,
    auto_hidden           boolean NOT NULL DEFAULT false,
    llm_provider          text,
    llm_model             text,
    -- JSON array of document ids; kept free of deleted documents.
    selected_document_ids jsonb
);

-- The listing order; the included columns make it a covering index, so a listing can
-- read only the index. (Titles are at most 500 characters, well under the index's
-- row size limit.)
CREATE INDEX idx_conversations_user_activity
    ON conversations(user_id, last_activity_at DESC, id DESC)
    INCLUDE (status, is_hidden, auto_hidden, message_count, title);
CREATE INDEX idx_conversations_deleted_at
    ON conversations(deleted_at) WHERE deleted_at IS NOT NULL;

-- id is the public id and the primary key (SQLite's integer pk only served FTS5).
CREATE TABLE messages (
    id                     uuid PRIMARY KEY,
    conversation_id        uuid NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    seq                    bigint NOT NULL,
    parent_id              uuid,
    role                   text NOT NULL CHECK (role IN ('user', 'assistant', 'system')),
    content                text NOT NULL,
    request_id             text,
    source                 text,
    tokens                 bigint,
    model_name             text,
    latency_ms             bigint,
    confidence_score       double precision,
    low_confidence_warning boolean NOT NULL DEFAULT false,
    -- JSON object with the list-shaped metadata (retrieved_documents, sources,
    -- reasoning_chain, grounding_evidence, agents_involved, extra); NULL when all are empty.
    rag_metadata           jsonb,
    -- Attachment metadata (JSON array); the bytes live in the blob store.
    files                  jsonb,
    created_at             timestamptz NOT NULL,
    UNIQUE (conversation_id, seq)
);

-- The messages with attachments, for sweeps and migrations of the blob store.
CREATE INDEX idx_messages_with_files ON messages(id) WHERE files IS NOT NULL;

-- Messages are an append-only log: what was said is never rewritten. Like SQLite's
-- trigger, this fires when an UPDATE names one of these columns, whatever the value.
-- SQLSTATE 23000 (integrity constraint violation), as SQLite reports a trigger's abort
-- as a constraint failure.
CREATE FUNCTION messages_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'messages are append-only' USING ERRCODE = 'integrity_constraint_violation';
END;
$$;

CREATE TRIGGER messages_append_only
    BEFORE UPDATE OF id, conversation_id, seq, parent_id, role, content, created_at ON messages
    FOR EACH ROW EXECUTE FUNCTION messages_append_only();

-- The seeds' msg_metadata column, for people reading the database by hand.
CREATE VIEW messages_with_metadata AS
SELECT id, conversation_id, seq, parent_id, role, content, created_at,
       jsonb_build_object(
           'request_id', request_id, 'source', source, 'tokens', tokens,
           'model_name', model_name, 'latency_ms', latency_ms,
           'confidence_score', confidence_score,
           'low_confidence_warning', low_confidence_warning
       ) || coalesce(rag_metadata, '{}') AS msg_metadata
FROM messages;
