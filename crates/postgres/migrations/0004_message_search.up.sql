-- Full-text search over message content. Instead of SQLite's FTS5 table, each message
-- carries its tsvector, which the application computes and writes in the message's
-- INSERT (no trigger): it splits the words itself, the same way on every backend, and
-- hands them over in the `simple` configuration (no stemming, no stop words).
-- A tsvector is limited to 1 MB ("string is too long for tsvector"): the words of a
-- very large message are split over message_search_parts below, so that every word of
-- it is still found.
ALTER TABLE messages ADD COLUMN search_vector tsvector;

-- Messages written before this migration (none, when the schema is created at its
-- latest version) get the server's own split of a bounded prefix: close to, but not
-- exactly, what the application writes.
UPDATE messages SET search_vector = to_tsvector('simple', left(content, 100000));

ALTER TABLE messages ALTER COLUMN search_vector SET NOT NULL;

CREATE INDEX idx_messages_search ON messages USING gin (search_vector);

-- The rest of the distinct words of a message too large for one tsvector, in parts
-- that each fit (none for an ordinary message). A search matches such a message when
-- every one of its words is in the message's own vector or in one of its parts.
CREATE TABLE message_search_parts (
    message_id    uuid NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    part          integer NOT NULL CHECK (part >= 1),
    search_vector tsvector NOT NULL,
    PRIMARY KEY (message_id, part)
);

CREATE INDEX idx_message_search_parts ON message_search_parts USING gin (search_vector);
