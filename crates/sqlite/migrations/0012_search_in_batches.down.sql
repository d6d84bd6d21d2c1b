-- Everything waiting is indexed, and the index is kept inside every append again.
INSERT INTO messages_fts(rowid, content)
    SELECT m.pk, m.content FROM search_pending p JOIN messages m ON m.pk = p.pk;

DROP TRIGGER messages_search_pending;
DROP TRIGGER messages_fts_delete;
DROP TABLE search_pending;

CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages
BEGIN
    INSERT INTO messages_fts(rowid, content) VALUES (new.pk, new.content);
END;

CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages
BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.pk, old.content);
END;
