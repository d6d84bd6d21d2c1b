-- Documents and their chunks.
CREATE TABLE documents (
    id                   TEXT PRIMARY KEY,
    owner_id             TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    filename             TEXT NOT NULL,
    file_path            TEXT NOT NULL,
    file_type            TEXT,
    file_size            INTEGER,
    title                TEXT NOT NULL,
    description          TEXT,
    category             TEXT,
    tags                 TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(tags)),
    scope                TEXT NOT NULL DEFAULT 'user' CHECK (scope IN ('user', 'global')),
    auto_summary         TEXT,
    auto_keywords        TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(auto_keywords)),
    auto_topics          TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(auto_topics)),
    content_type         TEXT,
    summarization_model  TEXT,
    summarization_tokens INTEGER,
    summarized_at        TEXT,
    is_processed         INTEGER NOT NULL DEFAULT 0 CHECK (is_processed IN (0, 1)),
    processing_status    TEXT NOT NULL DEFAULT 'pending'
                         CHECK (processing_status IN ('pending', 'processing', 'completed', 'failed')),
    error_message        TEXT,
    num_chunks           INTEGER NOT NULL DEFAULT 0,
    num_tokens           INTEGER NOT NULL DEFAULT 0,
    uploaded_at          TEXT NOT NULL,
    processed_at         TEXT,
    updated_at           TEXT NOT NULL
) STRICT;

CREATE INDEX idx_documents_owner ON documents(owner_id, uploaded_at DESC, id DESC);
CREATE INDEX idx_documents_scope ON documents(scope, uploaded_at DESC, id DESC);

CREATE TABLE document_chunks (
    pk           INTEGER PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    document_id  TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    chunk_index  INTEGER NOT NULL CHECK (chunk_index >= 0),
    content      TEXT NOT NULL,
    num_tokens   INTEGER,
    page_number  INTEGER,
    section      TEXT,
    embedding_id TEXT,
    UNIQUE (document_id, chunk_index)
) STRICT;
