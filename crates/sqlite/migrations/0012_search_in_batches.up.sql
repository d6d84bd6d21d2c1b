-- The full-text index is brought up to date in batches instead of inside every append.
-- An append now records only its message's row key here (one small row, where the
-- index wrote a whole segment per transaction); the store's indexer moves waiting
-- messages into the index every few milliseconds or few hundred messages, and every
-- search first indexes whatever is still waiting, so a search sees every message whose
-- append returned before it began. What waits is durable: a crash loses nothing, the
-- next indexing takes it.
CREATE TABLE search_pending (pk INTEGER PRIMARY KEY) STRICT;

DROP TRIGGER messages_fts_insert;
CREATE TRIGGER messages_search_pending AFTER INSERT ON messages
BEGIN
    INSERT INTO search_pending(pk) VALUES (new.pk);
END;

-- A message deleted before it was indexed leaves the queue; one already indexed leaves
-- the index (FTS5's 'delete' must only be given rows it holds).
DROP TRIGGER messages_fts_delete;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages
BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, content)
        SELECT 'delete', old.pk, old.content
        WHERE NOT EXISTS (SELECT 1 FROM search_pending WHERE pk = old.pk);
    DELETE FROM search_pending WHERE pk = old.pk;
END;
