-- Full-text search over message content. Instead of SQLite's FTS5 table, each message
-- carries its tsvector, which the application computes and writes in the message's
-- INSERT (no trigger): it splits the words itself, the same way on every backend, and
-- hands them over in the `simple` configuration (no stemming, no stop words).
-- A tsvector is limited to 1 MB ("string is too long for tsvector"): the application
-- indexes a bounded prefix of a very large message, never the whole of it.
ALTER TABLE messages ADD COLUMN search_vector tsvector;

-- Messages written before this migration (none, when the schema is created at its
-- latest version) get the server's own split of a bounded prefix: close to, but not
-- exactly, what the application writes.
UPDATE messages SET search_vector = to_tsvector('simple', left(content, 100000));

ALTER TABLE messages ALTER COLUMN search_vector SET NOT NULL;

CREATE INDEX idx_messages_search ON messages USING gin (search_vector);

