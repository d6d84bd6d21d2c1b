-- Chunk embeddings (the source of truth the vector index is rebuilt from) and the
-- embedding cache. Vectors are little-endian float32 arrays.
CREATE TABLE embedding_collections (
    name       TEXT PRIMARY KEY,
    dimension  INTEGER NOT NULL CHECK (dimension BETWEEN 1 AND 4096),
    distance   TEXT NOT NULL CHECK (distance IN ('cosine', 'dot', 'l2')),
    created_at TEXT NOT NULL
) STRICT;

-- version grows with every write, so an index can tell what changed since it saved.
CREATE TABLE chunk_embeddings (
    version    INTEGER PRIMARY KEY AUTOINCREMENT,
    collection TEXT NOT NULL REFERENCES embedding_collections(name) ON DELETE CASCADE,
    chunk_id   TEXT NOT NULL REFERENCES document_chunks(id) ON DELETE CASCADE,
    vector     BLOB NOT NULL,
    UNIQUE (collection, chunk_id)
) STRICT;

CREATE INDEX idx_chunk_embeddings_chunk_id ON chunk_embeddings(chunk_id);

CREATE TABLE embedding_cache (
    key        TEXT PRIMARY KEY,
    vector     BLOB NOT NULL,
    created_at TEXT NOT NULL
) STRICT, WITHOUT ROWID;
