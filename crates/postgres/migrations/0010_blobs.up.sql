-- Attachment bytes (the SQLite backend's files.db), content-addressed: each distinct
-- content once in blob_contents, its bytes in blob_chunks of 256 KiB, and each key
-- (<message id>/<index>[.thumb]) in blobs pointing at its content. refs counts the keys
-- pointing at a content; the content goes with the last of them. blobs.message_id has
-- no foreign key, as in files.db: attachments may be stored before their message, and
-- the orphan sweep removes those whose message never came or is gone.
CREATE TABLE blob_contents (
    id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- blake3 of the bytes, 64 hex characters; NULL while a stream is being written.
    hash text COLLATE "C" UNIQUE CHECK (hash ~ '^[0-9a-f]{64}$'),
    size bigint NOT NULL CHECK (size >= 0),
    refs bigint NOT NULL CHECK (refs >= 0)
);

CREATE TABLE blob_chunks (
    content_id bigint NOT NULL REFERENCES blob_contents (id) ON DELETE CASCADE,
    n          integer NOT NULL CHECK (n >= 0),
    data       bytea NOT NULL,
    PRIMARY KEY (content_id, n)
);
-- Already compressed formats (images, PDFs, archives) gain nothing from TOAST's
-- compression; storing the chunks as they are saves the attempt on every write.
ALTER TABLE blob_chunks ALTER COLUMN data SET STORAGE EXTERNAL;

CREATE TABLE blobs (
    message_id uuid NOT NULL,
    idx        bigint NOT NULL CHECK (idx >= 0 AND idx <= 4294967295),
    thumbnail  boolean NOT NULL,
    content_id bigint NOT NULL REFERENCES blob_contents (id),
    created_at timestamptz NOT NULL,
    PRIMARY KEY (message_id, idx, thumbnail)
);
CREATE INDEX blobs_content ON blobs (content_id);
