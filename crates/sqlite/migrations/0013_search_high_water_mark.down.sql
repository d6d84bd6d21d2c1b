-- Back to the queue of migration 12: what is above the mark waits there.
CREATE TABLE search_pending (pk INTEGER PRIMARY KEY) STRICT;
INSERT INTO search_pending (pk)
    SELECT pk FROM messages WHERE pk > (SELECT upto FROM search_indexed);

DROP TRIGGER messages_fts_delete;
DROP TABLE search_indexed;

CREATE TRIGGER messages_search_pending AFTER INSERT ON messages
BEGIN
    INSERT INTO search_pending(pk) VALUES (new.pk);
END;

CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages
BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, content)
        SELECT 'delete', old.pk, old.content
        WHERE NOT EXISTS (SELECT 1 FROM search_pending WHERE pk = old.pk);
    DELETE FROM search_pending WHERE pk = old.pk;
END;
