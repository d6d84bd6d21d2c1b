-- Attachment bytes, content-addressed: identical bytes are stored once (contents),
-- and keys (blobs) point at them. Keys are the source system's
-- `<message id>/<index>` and `<message id>/<index>.thumb`.
CREATE TABLE contents (
    id   INTEGER PRIMARY KEY,
    -- blake3 of data, 64 hex characters; every read checks the bytes against it.
    hash TEXT NOT NULL UNIQUE,
    size INTEGER NOT NULL CHECK (size >= 0),
    data BLOB NOT NULL
) STRICT;

CREATE TABLE blobs (
    message_id TEXT NOT NULL,
    idx        INTEGER NOT NULL CHECK (idx >= 0),
    thumbnail  INTEGER NOT NULL CHECK (thumbnail IN (0, 1)),
    key        TEXT GENERATED ALWAYS AS
                   (message_id || '/' || idx || CASE thumbnail WHEN 1 THEN '.thumb' ELSE '' END) VIRTUAL,
    content_id INTEGER NOT NULL REFERENCES contents(id),
    created_at TEXT NOT NULL,
    PRIMARY KEY (message_id, idx, thumbnail)
) STRICT, WITHOUT ROWID;

CREATE INDEX idx_blobs_content_id ON blobs(content_id);
