-- Appends no longer write anything for the search index. Migration 12's trigger on
-- INSERT made every append a statement that writes more than one row, which SQLite
-- journals on its own inside the transaction (about a tenth of an append's work).
-- Instead, the messages not yet indexed are those whose row key is above a high-water
-- mark: SQLite gives a new row the largest key plus one, so keys only grow while the
-- largest row is kept, and a deletion that removes the largest rows brings the mark
-- down to the largest that remains, so that a key given again is above it. Everything
-- below the mark is indexed; what is above it is taken by the indexer and by every
-- search's catch-up. What migration 12 left waiting is indexed here first.
INSERT INTO messages_fts(rowid, content)
    SELECT m.pk, m.content FROM search_pending p JOIN messages m ON m.pk = p.pk;

CREATE TABLE search_indexed (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    upto INTEGER NOT NULL
) STRICT;
INSERT INTO search_indexed (id, upto) SELECT 1, coalesce(max(pk), 0) FROM messages;

DROP TRIGGER messages_search_pending;
DROP TRIGGER messages_fts_delete;
DROP TABLE search_pending;

-- A message at or below the mark leaves the index (FTS5's 'delete' must only be given
-- rows it holds); the mark never stays above the largest key left.
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages
BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, content)
        SELECT 'delete', old.pk, old.content
        WHERE old.pk <= (SELECT upto FROM search_indexed);
    UPDATE search_indexed SET upto = coalesce((SELECT max(pk) FROM messages), 0)
        WHERE upto > coalesce((SELECT max(pk) FROM messages), 0);
END;
