-- Conversations and their append-only messages.
CREATE TABLE conversations (
    id                    TEXT PRIMARY KEY,
    user_id               TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    title                 TEXT,
    status                TEXT NOT NULL DEFAULT 'active'
                          CHECK (status IN ('active', 'archived', 'closed', 'deleted')),
    status_before_delete  TEXT CHECK (status_before_delete IN ('active', 'archived', 'closed')),
    message_count         INTEGER NOT NULL DEFAULT 0,
    created_at            TEXT NOT NULL,
    updated_at            TEXT NOT NULL,
    last_message_at       TEXT,
    -- last_message_at, or created_at before the first message: the listing order.
    last_activity_at      TEXT NOT NULL,
    last_opened_at        TEXT,
    archived_at           TEXT,
    closed_at             TEXT,
    deleted_at            TEXT,
    is_hidden             INTEGER NOT NULL DEFAULT 0 CHECK (is_hidden IN (0, 1)),
    hidden_at             TEXT,
    auto_hidden           INTEGER NOT NULL DEFAULT 0 CHECK (auto_hidden IN (0, 1)),
    llm_provider          TEXT,
    llm_model             TEXT,
    -- JSON array of document ids; kept free of deleted documents.
    selected_document_ids TEXT CHECK (selected_document_ids IS NULL OR json_valid(selected_document_ids))
) STRICT;

-- The listing order; the trailing columns make it a covering index, so a listing reads
-- only the index. (Appends rewrite the entry anyway: last_activity_at changes.)
CREATE INDEX idx_conversations_user_activity
    ON conversations(user_id, last_activity_at DESC, id DESC,
                     status, is_hidden, auto_hidden, message_count, title);
CREATE INDEX idx_conversations_deleted_at
    ON conversations(deleted_at) WHERE deleted_at IS NOT NULL;

-- pk is the stable integer key the full-text index points at; id is the public id.
CREATE TABLE messages (
    pk                     INTEGER PRIMARY KEY,
    id                     TEXT NOT NULL UNIQUE,
    conversation_id        TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    seq                    INTEGER NOT NULL,
    parent_id              TEXT,
    role                   TEXT NOT NULL CHECK (role IN ('user', 'assistant', 'system')),
    content                TEXT NOT NULL,
    request_id             TEXT,
    source                 TEXT,
    tokens                 INTEGER,
    model_name             TEXT,
    latency_ms             INTEGER,
    confidence_score       REAL,
    low_confidence_warning INTEGER NOT NULL DEFAULT 0 CHECK (low_confidence_warning IN (0, 1)),
    -- JSON object with the list-shaped metadata (retrieved_documents, sources,
    -- reasoning_chain, grounding_evidence, agents_involved, extra); NULL when all are empty.
    rag_metadata           TEXT CHECK (rag_metadata IS NULL OR json_valid(rag_metadata)),
    -- Attachment metadata (JSON array); the bytes live in the blob store.
    files                  TEXT CHECK (files IS NULL OR json_valid(files)),
    created_at             TEXT NOT NULL,
    UNIQUE (conversation_id, seq)
) STRICT;

-- The messages with attachments, for sweeps and migrations of the blob store.
CREATE INDEX idx_messages_with_files ON messages(id) WHERE files IS NOT NULL;

-- Messages are an append-only log: what was said is never rewritten.
CREATE TRIGGER messages_append_only
    BEFORE UPDATE OF id, conversation_id, seq, parent_id, role, content, created_at ON messages
BEGIN
    SELECT RAISE(ABORT, 'messages are append-only');
END;

-- The seeds' msg_metadata column, for people reading the database by hand.
CREATE VIEW messages_with_metadata AS
SELECT id, conversation_id, seq, parent_id, role, content, created_at,
       json_patch(
           json_object(
               'request_id', request_id, 'source', source, 'tokens', tokens,
               'model_name', model_name, 'latency_ms', latency_ms,
               'confidence_score', confidence_score,
               'low_confidence_warning', json(CASE low_confidence_warning WHEN 1 THEN 'true' ELSE 'false' END)
           ),
           coalesce(rag_metadata, '{}')
       ) AS msg_metadata
FROM messages;
