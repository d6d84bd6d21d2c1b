-- Chunk embeddings (the source of truth the vector index is rebuilt from) and the
-- embedding cache. A vector is stored as SQLite stores it: bytea holding the
-- little-endian float32 values one after another (4 bytes each), not real[].
-- Collection names are listed and compared in byte order (COLLATE "C").
CREATE TABLE embedding_collections (
    name       text COLLATE "C" PRIMARY KEY,
    dimension  integer NOT NULL CHECK (dimension BETWEEN 1 AND 4096),
    distance   text NOT NULL CHECK (distance IN ('cosine', 'dot', 'l2')),
    created_at timestamptz NOT NULL
);

-- The last version given to an embedding written or removed. version grows with every
-- write, so an index can tell what changed since it saved; it must grow in COMMIT
-- order, or a reader tracking "versions above the last one seen" would skip a smaller
-- version committed after a larger one (a sequence does not promise that). So every
-- write of an embedding, and every removal (trigger in 0008), takes its version with
--     UPDATE embedding_version SET latest = latest + n WHERE id = 1 RETURNING latest
-- in its own transaction: the row lock, held until commit, makes writers take turns,
-- so versions are handed out in the order the writes commit.
CREATE TABLE embedding_version (
    id     integer PRIMARY KEY CHECK (id = 1),
    latest bigint NOT NULL
);

INSERT INTO embedding_version (id, latest) VALUES (1, 0);

-- version is drawn from embedding_version by the writer (no default): unique, and the
-- key catching up reads by.
CREATE TABLE chunk_embeddings (
    version    bigint PRIMARY KEY,
    collection text COLLATE "C" NOT NULL
               REFERENCES embedding_collections(name) ON DELETE CASCADE,
    chunk_id   uuid NOT NULL REFERENCES document_chunks(id) ON DELETE CASCADE,
    vector     bytea NOT NULL,
    UNIQUE (collection, chunk_id)
);

CREATE INDEX idx_chunk_embeddings_chunk_id ON chunk_embeddings(chunk_id);

CREATE TABLE embedding_cache (
    key        text COLLATE "C" PRIMARY KEY,
    vector     bytea NOT NULL,
    created_at timestamptz NOT NULL
);
