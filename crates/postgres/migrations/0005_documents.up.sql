-- Documents and their chunks.
CREATE TABLE documents (
    id                   uuid PRIMARY KEY,
    owner_id             uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    filename             text NOT NULL,
    file_path            text NOT NULL,
    file_type            text,
    file_size            bigint,
    title                text NOT NULL,
    description          text,
    category             text,
    tags                 jsonb NOT NULL DEFAULT '[]',
    scope                text NOT NULL DEFAULT 'user' CHECK (scope IN ('user', 'global')),
    auto_summary         text,
    auto_keywords        jsonb NOT NULL DEFAULT '[]',
    auto_topics          jsonb NOT NULL DEFAULT '[]',
    content_type         text,
    summarization_model  text,
    summarization_tokens bigint,
    summarized_at        timestamptz,
    is_processed         boolean NOT NULL DEFAULT false,
    processing_status    text NOT NULL DEFAULT 'pending'
                         CHECK (processing_status IN ('pending', 'processing', 'completed', 'failed')),
    error_message        text,
    num_chunks           bigint NOT NULL DEFAULT 0,
    num_tokens           bigint NOT NULL DEFAULT 0,
    uploaded_at          timestamptz NOT NULL,
    processed_at         timestamptz,
    updated_at           timestamptz NOT NULL
);

CREATE INDEX idx_documents_owner ON documents(owner_id, uploaded_at DESC, id DESC);
CREATE INDEX idx_documents_scope ON documents(scope, uploaded_at DESC, id DESC);

-- id is the public id and the primary key (SQLite's integer pk is not needed here).
CREATE TABLE document_chunks (
    id           uuid PRIMARY KEY,
    document_id  uuid NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    chunk_index  bigint NOT NULL CHECK (chunk_index >= 0),
    content      text NOT NULL,
    num_tokens   bigint,
    page_number  bigint,
    section      text,
    embedding_id text,
    UNIQUE (document_id, chunk_index)
);
